import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { ProxyServer } from './proxy-server';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The body idle timeout on a real ProxyServer whose handler reads the whole body, then answers. */
describe('request body idle timeout (ProxyServer)', () => {
  const servers: Record<'on' | 'off', { server: ProxyServer; port: number }> = {} as never;

  before(async () => {
    for (const [name, ms] of [['on', 200], ['off', 0]] as const) {
      const server = new ProxyServer(name, (req, res) => {
        let n = 0;
        req.on('data', (c: Buffer) => (n += c.length));
        req.on('end', () => res.end(`got ${n}`));
      }, { bodyIdleTimeoutMs: ms });
      servers[name] = { server, port: (await server.listen(0, '127.0.0.1')).port };
    }
  });
  after(() => Promise.all(Object.values(servers).map((s) => s.server.close(0))));

  /** Sends a head and `first`, waits `pauseMs`, sends `rest` if the connection is still open; collects the answer. */
  function send(port: number, first: string, pauseMs: number, rest: string): Promise<string> {
    return new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      let text = '';
      s.on('error', () => undefined);
      s.on('data', (c: Buffer) => {
        text += c.toString('latin1');
        if (/got \d+$/.test(text)) s.destroy();
      });
      s.on('close', () => resolve(text));
      s.write(`POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: ${first.length + rest.length}\r\n\r\n${first}`);
      setTimeout(() => s.writable && s.write(rest), pauseMs);
      setTimeout(() => s.destroy(), pauseMs + 10_000);
    });
  }

  test('a stalled body gets a JSON 408 and a closed connection', async () => {
    const t = await send(servers.on.port, 'abc', 1500, 'def');
    assert.match(t, /^HTTP\/1\.1 408 /);
    assert.match(t, /\r\nconnection: close\r\n/i);
    assert.match(t, /"code":"REQUEST_TIMEOUT"/);
    assert.equal(servers.on.server.bodyTimeouts, 1);
  });

  test('a body with short gaps, and bodiless requests, are not touched', async () => {
    assert.match(await send(servers.on.port, 'abc', 50, 'def'), /^HTTP\/1\.1 200 [\s\S]*got 6$/);
    const t = await new Promise<string>((resolve) => {
      const s = net.connect(servers.on.port, '127.0.0.1');
      let text = '';
      s.on('data', (c: Buffer) => (text += c.toString('latin1')));
      s.on('close', () => resolve(text));
      s.write('GET /g HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    });
    assert.match(t, /got 0$/);
    await sleep(500);
    assert.equal(servers.on.server.bodyTimeouts, 1);
  });

  test('0 turns it off: a body may pause for longer', async () => {
    assert.match(await send(servers.off.port, 'abc', 700, 'def'), /^HTTP\/1\.1 200 [\s\S]*got 6$/);
    assert.equal(servers.off.server.bodyTimeouts, 0);
  });
});
