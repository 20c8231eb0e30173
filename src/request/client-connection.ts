/** What the server knows of the connection a request came on (HTTP or WebSocket). */
export interface ClientConnection {
  remoteAddress?: string;
}
