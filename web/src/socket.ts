/** The typed socket.io connection of the page (the cookie authenticates it). */
import { io, type Socket } from "socket.io-client";
import type { ClientToServerEvents, ServerToClientEvents } from "../../server/src/realtime/protocol.ts";

export type LabSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export function connect(auth?: Record<string, string>): LabSocket {
  return io({ transports: ["websocket", "polling"], withCredentials: true, ...(auth ? { auth } : {}) });
}
