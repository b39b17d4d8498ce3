import type { IncomingMessage } from 'node:http';
import { type OnGatewayConnection, WebSocketGateway } from '@nestjs/websockets';
import type WebSocket from 'ws';
import { DETECT_PATH } from '@vision/wire';
import { EdgeService } from './edge.service';

/**
 * The WebSocket endpoint. Messages bypass Nest's JSON message routing (which would silently drop
 * binary frames): the edge service listens on the raw socket and answers every message.
 */
@WebSocketGateway({ path: DETECT_PATH })
export class DetectGateway implements OnGatewayConnection {
  constructor(private readonly edge: EdgeService) {}

  handleConnection(client: WebSocket, req: IncomingMessage): void {
    this.edge.attach(client, req);
  }
}
