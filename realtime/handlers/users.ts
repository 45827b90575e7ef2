/**
 * @module
 * user:profiles: display names and roles for ids a page already holds. The
 * presence visibility rule (realtime/access.ts) filters rather than refuses:
 * ids the caller may not see are dropped before any user is read, so another
 * patient and an id nobody has get the same answer. A profile carries the id,
 * name and role only, never the email, hash or account state.
 */

import { getUsers, type Role } from "../../store/users.ts";
import { userVisibility } from "../access.ts";
import { defineEvent } from "../events.ts";
import { userIdsPayload } from "../payload.ts";

/** What anyone allowed to see a user learns about them. */
export interface Profile {
  userId: string;
  name: string;
  role: Role;
}

export const userEvents = {
  "user:profiles": defineEvent({
    ack: true,
    schema: userIdsPayload,
    async handler(ctx, input) {
      const { kv } = ctx.services;
      const maySee = await userVisibility(kv, ctx);
      const users = await getUsers(kv, input.userIds.filter(maySee));
      const profiles: Profile[] = users.flatMap((u) =>
        u ? [{ userId: u.id, name: u.name, role: u.role }] : []
      );
      return { users: profiles };
    },
  }),
};
