// A small hsmjwtd client for scripts (tests/bench/run.sh):
//
//   node tests/interop/client.mjs ready --grpc HOST:PORT --http HOST:PORT [--timeout SECONDS]
//     waits until Health/Check returns SERVING and GET /healthz returns 200.
//   node tests/interop/client.mjs sign-verify --grpc HOST:PORT --http HOST:PORT
//       --issuer URL --alg ALG [--profile NAME]
//     signs one token and verifies it with jose against the JWKS URL.
//
// Exit status: 0 on success, 1 on a failure (the reason on stderr), 2 on a
// usage error.

import { parseArgs } from 'node:util';

import { createRemoteJWKSet, jwtVerify } from 'jose';

import { call, createClients, waitReady } from './lib/daemon.mjs';

const USAGE = 'usage: client.mjs ready|sign-verify --grpc HOST:PORT ' +
    '--http HOST:PORT [--timeout SECONDS] [--issuer URL --alg ALG ' +
    '[--profile NAME]]';

async function signVerify(clients, opts) {
    const response = await call(clients.tokens, 'Sign', {
        profile: opts.profile,
        claims_json: JSON.stringify({ sub: 'bench-check' }),
    }, 10_000);
    const jwks = createRemoteJWKSet(
        new URL(`http://${opts.http}/.well-known/jwks.json`),
        { timeoutDuration: 5000 });
    const { protectedHeader } = await jwtVerify(response.token, jwks,
        { issuer: opts.issuer, algorithms: [opts.alg] });
    console.log(`verified alg=${protectedHeader.alg} kid=${protectedHeader.kid}`);
}

async function main() {
    let parsed;
    try {
        parsed = parseArgs({
            allowPositionals: true,
            options: {
                grpc: { type: 'string' }, http: { type: 'string' },
                timeout: { type: 'string', default: '30' },
                issuer: { type: 'string' }, alg: { type: 'string' },
                profile: { type: 'string', default: '' },
            },
        });
    } catch (e) {
        console.error(`${e.message}\n${USAGE}`);
        return 2;
    }
    const { positionals: [command], values: opts } = parsed;
    const timeoutSeconds = Number(opts.timeout);
    if (!opts.grpc || !opts.http || !(timeoutSeconds > 0) ||
        (command === 'sign-verify' && (!opts.issuer || !opts.alg)) ||
        !['ready', 'sign-verify'].includes(command)) {
        console.error(USAGE);
        return 2;
    }

    const clients = createClients(opts.grpc);
    try {
        if (command === 'ready')
            await waitReady(null, clients, opts.http, timeoutSeconds * 1000);
        else
            await signVerify(clients, opts);
        return 0;
    } catch (e) {
        console.error(`client.mjs ${command}: ${e.message}`);
        return 1;
    } finally {
        clients.close();
    }
}

process.exitCode = await main();
