/**
 * @module
 * `ping`: an acknowledged no-op returning the server time. Clients use it to
 * measure latency and as a barrier (every earlier frame to this socket has
 * been written once its ack arrives).
 */

import { z } from "zod";
import { defineEvent } from "../events.ts";

export const systemEvents = {
  "ping": defineEvent({
    ack: true,
    schema: z.object({}),
    handler(ctx) {
      return { time: new Date(ctx.services.clock.now()).toISOString() };
    },
  }),
};
