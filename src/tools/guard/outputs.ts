// Where alerts go, as Falco's outputs: stdout, a file, a program's stdin, an HTTP endpoint.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { request } from 'node:http';
import { request as requestTls } from 'node:https';
import { alertLine, type Alert } from './engine.js';

export interface AlertSink {
  write(alert: Alert): void;
  close(): Promise<void>;
}

export function formatAlert(a: Alert, json: boolean): string {
  return json ? JSON.stringify(a) : alertLine(a);
}

export function streamSink(out: NodeJS.WritableStream, json: boolean): AlertSink {
  return {
    write: (a) => void out.write(`${formatAlert(a, json)}\n`),
    close: async () => {},
  };
}

export function fileSink(path: string, json: boolean): AlertSink {
  const f: WriteStream = createWriteStream(path, { flags: 'a' });
  return {
    write: (a) => void f.write(`${formatAlert(a, json)}\n`),
    close: () => new Promise((resolve) => f.end(resolve)),
  };
}

/** A program started once with `sh -c`, fed one alert a line on its stdin. */
export function programSink(command: string, json: boolean): AlertSink {
  const child: ChildProcess = spawn('sh', ['-c', command], { stdio: ['pipe', 'inherit', 'inherit'] });
  child.stdin?.on('error', () => {});
  return {
    write: (a) => void child.stdin?.write(`${formatAlert(a, json)}\n`),
    close: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.stdin?.end();
        if (child.exitCode !== null) resolve();
      }),
  };
}

const HTTP_RETRIES = 3;
const HTTP_TIMEOUT_MS = 5000;

/** POSTs each alert's JSON, retrying a failed POST with backoff; alerts are sent in order. */
export function httpSink(url: string, onError: (msg: string) => void): AlertSink {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? requestTls : request;
  let chain: Promise<void> = Promise.resolve();
  const post = (body: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = send(target, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: HTTP_TIMEOUT_MS }, (res) => {
        res.resume();
        res.on('end', () => ((res.statusCode ?? 500) < 300 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end(body);
    });
  const deliver = async (body: string): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      try {
        await post(body);
        return;
      } catch (err) {
        if (attempt >= HTTP_RETRIES) {
          onError(`http output ${url}: ${(err as Error).message} after ${HTTP_RETRIES + 1} attempts: alert lost`);
          return;
        }
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      }
    }
  };
  return {
    write: (a) => {
      const body = JSON.stringify(a);
      chain = chain.then(() => deliver(body));
    },
    close: () => chain,
  };
}
