/**
 * @module
 * What a room's participant lists are made of. Participation is a live
 * membership per socket (store/topics.ts, first built for topics, now for
 * every room), so these are only the shared shape and bound.
 */

export interface Participant {
  userId: string;
  role: string;
  joinedAt: string;
}

/** Most participants a room lists; rooms are conversations, not broadcast lists. */
export const MAX_LISTED_PARTICIPANTS = 500;
