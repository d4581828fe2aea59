// Helpers that run hsmjwtd against its own SoftHSM token on loopback ports
// and talk to it with @grpc/grpc-js. The interop tests and
// tests/bench/run.sh (through client.mjs) share them.

import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { access, constants, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const execFileAsync = promisify(execFile);

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const SOFTHSM_MODULE = process.env.HSMJWT_TEST_MODULE ??
    '/usr/lib/softhsm/libsofthsm2.so';

// The gRPC status codes (NOT_FOUND is 5, INVALID_ARGUMENT is 3).
export const STATUS = grpc.status;

// Returns the daemon binary: $HSMJWTD, or build/src/daemon/hsmjwtd in the
// repository. Throws with the build command when it is not there.
export async function findDaemon() {
    const path = process.env.HSMJWTD ??
        join(REPO_ROOT, 'build', 'src', 'daemon', 'hsmjwtd');
    try {
        await access(path, constants.X_OK);
    } catch {
        throw new Error(`hsmjwtd not found or not executable at ${path}: ` +
            'build it with "meson setup build && ninja -C build" in the ' +
            'repository root, or set HSMJWTD to its path');
    }
    return path;
}

// Returns a TCP port on 127.0.0.1 that was free a moment ago.
export async function freePort() {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address();
    server.close();
    await once(server, 'close');
    return port;
}

// Creates a temporary folder with a softhsm2.conf and an initialized token
// labelled label. Returns { dir, env, pin }, where env contains SOFTHSM2_CONF.
export async function createToken(label) {
    const dir = await mkdtemp(join(tmpdir(), 'hsmjwt-interop-'));
    const pin = randomBytes(8).toString('hex');
    const soPin = randomBytes(8).toString('hex');
    const conf = join(dir, 'softhsm2.conf');

    await mkdir(join(dir, 'tokens'));
    await writeFile(conf, `directories.tokendir = ${join(dir, 'tokens')}\n` +
        'objectstore.backend = file\nlog.level = ERROR\n');

    const env = { ...process.env, SOFTHSM2_CONF: conf };
    const util = process.env.HSMJWT_TEST_SOFTHSM_UTIL ?? 'softhsm2-util';
    try {
        await execFileAsync(util, ['--init-token', '--free', '--label', label,
            '--pin', pin, '--so-pin', soPin], { env, timeout: 30_000 });
    } catch (e) {
        await rm(dir, { recursive: true, force: true });
        throw new Error(`softhsm2-util --init-token failed (${e.message}); ` +
            'install softhsm2 or set HSMJWT_TEST_SOFTHSM_UTIL');
    }
    return { dir, env, pin };
}

// Returns the YAML text of a daemon config with one profile for each
// { name, alg } in profiles.
export function renderConfig({ issuer, grpcAddr, httpAddr, tokenLabel,
    pinFile, pinEnv, profiles }) {
    const pin = pinFile !== undefined ? `  pin_file: ${pinFile}\n` :
        `  pin_env: ${pinEnv}\n`;
    const lines = profiles.map((p) => `  - name: ${p.name}\n` +
        `    alg: ${p.alg}\n    ttl: 5m\n    max_ttl: 1h\n`);
    return `issuer: ${issuer}\n` +
        `listen:\n  grpc: ${grpcAddr}\n  http: ${httpAddr}\n` +
        `hsm:\n  module: ${SOFTHSM_MODULE}\n  token: ${tokenLabel}\n` +
        pin + '  generate_missing_keys: true\n' +
        `profiles:\n${lines.join('')}`;
}

// Starts hsmjwtd --config configPath. The returned object keeps its stderr
// in log (a string) and resolves exited to { code, signal }.
export function startDaemon(bin, configPath, env) {
    const child = spawn(bin, ['--config', configPath], {
        env, stdio: ['ignore', 'ignore', 'pipe'],
    });
    const daemon = { child, log: '', exit: null };

    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => { daemon.log += chunk; });
    daemon.exited = new Promise((resolve) => {
        child.on('exit', (code, signal) => {
            daemon.exit = { code, signal };
            resolve(daemon.exit);
        });
    });
    daemon.spawned = new Promise((resolve, reject) => {
        child.on('spawn', resolve);
        child.on('error', reject);
    });
    return daemon;
}

// Sends SIGTERM and waits up to timeoutMs for the exit. A daemon that does
// not exit by then gets SIGKILL, and the result has killed: true.
export async function stopDaemon(daemon, timeoutMs = 10_000) {
    if (daemon.exit !== null)
        return { ...daemon.exit, killed: false };
    daemon.child.kill('SIGTERM');
    let timeout;
    const timer = new Promise((resolve) => {
        timeout = setTimeout(resolve, timeoutMs, 'timeout');
    });
    const outcome = await Promise.race([daemon.exited, timer]);
    // A pending timer would keep node running for the whole timeout.
    clearTimeout(timeout);
    if (outcome !== 'timeout')
        return { ...daemon.exit, killed: false };
    daemon.child.kill('SIGKILL');
    await daemon.exited;
    return { ...daemon.exit, killed: true };
}

const LOADER_OPTIONS = {
    keepCase: true, longs: Number, enums: String, defaults: true,
};

// Makes TokenService and Health clients for grpcAddr ("127.0.0.1:PORT").
export function createClients(grpcAddr) {
    const protoRoot = join(REPO_ROOT, 'proto');
    const api = grpc.loadPackageDefinition(protoLoader.loadSync(
        join(protoRoot, 'hsmjwt', 'v1', 'hsmjwt.proto'), LOADER_OPTIONS));
    const health = grpc.loadPackageDefinition(protoLoader.loadSync(
        join(protoRoot, 'grpc', 'health', 'v1', 'health.proto'),
        LOADER_OPTIONS));
    const creds = grpc.credentials.createInsecure();

    return {
        tokens: new api.hsmjwt.v1.TokenService(grpcAddr, creds),
        health: new health.grpc.health.v1.Health(grpcAddr, creds),
        close() {
            this.tokens.close();
            this.health.close();
        },
    };
}

// Calls a unary method with a deadline of timeoutMs. Rejects with the
// grpc-js error (its code and details) on a non-OK status.
export function call(client, method, request, timeoutMs = 10_000) {
    return new Promise((resolve, reject) => {
        client[method](request, { deadline: Date.now() + timeoutMs },
            (err, response) => (err ? reject(err) : resolve(response)));
    });
}

async function healthServing(clients) {
    try {
        const r = await call(clients.health, 'Check', { service: '' }, 1000);
        return r.status === 'SERVING';
    } catch {
        return false;
    }
}

async function healthzOk(httpAddr) {
    try {
        const r = await fetch(`http://${httpAddr}/healthz`,
            { signal: AbortSignal.timeout(1000) });
        return r.status === 200;
    } catch {
        return false;
    }
}

// Waits until Health/Check returns SERVING and GET /healthz returns 200.
// Throws after timeoutMs, or as soon as the daemon exits, with its log.
export async function waitReady(daemon, clients, httpAddr, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;

    while (Date.now() < deadline) {
        if (daemon !== null && daemon.exit !== null) {
            throw new Error(`hsmjwtd exited during startup with ` +
                `${JSON.stringify(daemon.exit)}; its log:\n${daemon.log}`);
        }
        if (await healthServing(clients) && await healthzOk(httpAddr))
            return;
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`hsmjwtd not ready within ${timeoutMs} ms (Health/Check ` +
        `SERVING and GET /healthz 200)` +
        (daemon !== null ? `; its log:\n${daemon.log}` : ''));
}
