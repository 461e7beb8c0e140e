/*  =========================================================================
    zstate - key/value state tables over ZeroMQ

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_H_INCLUDED
#define ZSTATE_H_INCLUDED

#include "zstate_library.h"
#include "zstate_batch.h"
#include "zstate_msg.h"
#include "zstate_client.h"
#include "zstate_producer.h"
#include "zstate_server.h"
#include "zstate_consumer.h"
#include "zstate_writer.h"
#include "zstate_sonic_msg.h"
#include "zstate_sonic_bridge.h"
#include "zstate_sonic_client.h"
#include "zstate_db_config.h"

#endif
