/**
 * @module
 * The signed-in session the page's modules share: the client, the user, and
 * the joined room with its participants. Sign-in and sign-out (app.js) set the
 * client and the user; only chat.js changes the room. No DOM here.
 */

/**
 * @type {{
 *   client: import("./client.js").RealtimeClient | null,
 *   user: {id: string, name: string, role: string} | null,
 *   room: string | null,
 *   participants: Map<string, string>,
 *   members: Map<string, string>,
 * }}
 * `participants`: users with a live socket in the room (id -> role); `members`: everyone with
 * access to it (visits and chats; empty for topics).
 */
export const session = {
  client: null,
  user: null,
  room: null,
  participants: new Map(),
  members: new Map(),
};

/**
 * A request that got no ack (timeout, socket gone) as a refusal, for callers that report both alike.
 * @param {Error} err
 * @returns {import("./client.js").AckData}
 */
export function failedAck(err) {
  return { success: false, error: err.message };
}
