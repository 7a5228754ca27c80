// A client of `tsbpf observe serve` (or of any Hubble Observer): GetFlows with the command
// line's filters, printed as the command line prints live flows; ServerStatus for `status`.
import * as grpc from '@grpc/grpc-js';
import { TsbpfError } from '../../index.js';
import type { FlowItem } from './flow.js';
import { itemOf, toTimestamp } from './grpc.js';
import { rfc3339Nano } from './flow.js';
import { grpcAddress, loadObserverService } from './server.js';

type ObserverClient = grpc.Client & {
  GetFlows(req: unknown): grpc.ClientReadableStream<Record<string, unknown>>;
  ServerStatus(req: unknown, cb: (err: grpc.ServiceError | null, res: Record<string, unknown>) => void): void;
};

export function connect(address: string): ObserverClient {
  const { Observer } = loadObserverService();
  return new Observer(grpcAddress(address), grpc.credentials.createInsecure()) as ObserverClient;
}

function failure(address: string, err: grpc.ServiceError): TsbpfError {
  const code = err.code === grpc.status.UNAVAILABLE ? 'ECONNREFUSED' : err.code === grpc.status.INVALID_ARGUMENT ? 'EINVAL' : 'EIO';
  return new TsbpfError(code, `${address}: ${err.details || err.message}`);
}

export interface FlowsRequest {
  number?: number;
  first?: boolean;
  follow: boolean;
  whitelist: unknown[];
  blacklist: unknown[];
  since?: bigint;
  until?: bigint;
}

/** Streams flows from the server into `each` until it ends or `signal` aborts. */
export function getFlows(address: string, req: FlowsRequest, each: (item: FlowItem) => void, signal?: AbortSignal): Promise<void> {
  const client = connect(address);
  const message: Record<string, unknown> = { follow: req.follow, first: req.first ?? false, whitelist: req.whitelist, blacklist: req.blacklist };
  if (req.number !== undefined) message.number = String(req.number);
  if (req.since !== undefined) message.since = toTimestamp(rfc3339Nano(req.since));
  if (req.until !== undefined) message.until = toTimestamp(rfc3339Nano(req.until));
  return new Promise((resolve, reject) => {
    const call = client.GetFlows(message);
    const onAbort = (): void => call.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = (err?: unknown): void => {
      signal?.removeEventListener('abort', onAbort);
      client.close();
      if (err === undefined) resolve();
      else reject(err);
    };
    call.on('data', (m: Record<string, unknown>) => {
      const item = itemOf(m);
      if (item !== undefined) each(item);
    });
    call.on('end', () => done());
    call.on('error', (err: grpc.ServiceError) => (err.code === grpc.status.CANCELLED && signal?.aborted ? done() : done(failure(address, err))));
  });
}

export function serverStatus(address: string): Promise<Record<string, unknown>> {
  const client = connect(address);
  return new Promise((resolve, reject) => {
    client.ServerStatus({}, (err, res) => {
      client.close();
      if (err) reject(failure(address, err));
      else resolve(res);
    });
  });
}

