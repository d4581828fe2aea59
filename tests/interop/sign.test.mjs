// Interop: tokens from hsmjwtd verify with jose (an independent JOSE
// library) against the JWKS that the daemon publishes over HTTP and gRPC.
// The daemon runs on its own SoftHSM token and free loopback ports.
//
// Run from the repository root: node --test tests/interop/
// The daemon is $HSMJWTD, or build/src/daemon/hsmjwtd.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
    calculateJwkThumbprint, createLocalJWKSet, createRemoteJWKSet, errors,
    jwtVerify,
} from 'jose';

import {
    STATUS, call, createClients, createToken, findDaemon, freePort,
    renderConfig, startDaemon, stopDaemon, waitReady,
} from './lib/daemon.mjs';

const ISSUER = 'https://hsmjwt-interop.invalid';
const TOKEN_LABEL = 'hsmjwt-interop';
const TTL_SECONDS = 300;   // the profiles' ttl: 5m
const PROFILES = [
    { name: 'default', alg: 'ES256' },
    { name: 'rs256', alg: 'RS256' },
    { name: 'ps256', alg: 'PS256' },
];
const STARTUP_TIMEOUT_MS = 60_000;   // RSA key generation in SoftHSM included
const CALL_TIMEOUT_MS = 10_000;
const TEST_TIMEOUT_MS = 30_000;

let token = null;
let daemon = null;
let clients = null;
let httpAddr = '';
let remoteJwks = null;
let signedOk = 0;
// Strings that must never reach the daemon's log: the PIN, claim values
// and issued tokens.
const secrets = [];

function unique(prefix) {
    const value = `${prefix}-${randomBytes(6).toString('hex')}`;
    secrets.push(value);
    return value;
}

async function sign(request) {
    const response = await call(clients.tokens, 'Sign',
        { audience: [], ...request }, CALL_TIMEOUT_MS);
    signedOk++;
    secrets.push(response.token);
    return response;
}

async function getJwks() {
    const response = await call(clients.tokens, 'GetJwks', {},
        CALL_TIMEOUT_MS);
    return JSON.parse(response.jwks_json);
}

function decodeSegment(segment) {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
}

// Returns a validator for assert.rejects: the gRPC status is code, and the
// message matches fieldPattern, the name of the field at fault.
function statusCheck(code, fieldPattern) {
    return (err) => {
        assert.equal(err.code, code, `status: ${err.code} ${err.details}`);
        assert.match(err.details, fieldPattern);
        return true;
    };
}

describe('hsmjwtd Sign interop', { timeout: 300_000 }, () => {
    before(async () => {
        const bin = await findDaemon();
        const grpcAddr = `127.0.0.1:${await freePort()}`;
        httpAddr = `127.0.0.1:${await freePort()}`;

        token = await createToken(TOKEN_LABEL);
        secrets.push(token.pin);
        const pinFile = join(token.dir, 'pin');
        await writeFile(pinFile, token.pin, { mode: 0o600 });
        const configPath = join(token.dir, 'hsmjwtd.yaml');
        await writeFile(configPath, renderConfig({
            issuer: ISSUER, grpcAddr, httpAddr, tokenLabel: TOKEN_LABEL,
            pinFile, profiles: PROFILES,
        }));

        daemon = startDaemon(bin, configPath, token.env);
        await daemon.spawned;
        clients = createClients(grpcAddr);
        await waitReady(daemon, clients, httpAddr, STARTUP_TIMEOUT_MS);
        remoteJwks = createRemoteJWKSet(
            new URL(`http://${httpAddr}/.well-known/jwks.json`),
            { timeoutDuration: 5000 });
    }, { timeout: STARTUP_TIMEOUT_MS + 30_000 });

    after(async () => {
        clients?.close();
        if (daemon !== null)
            await stopDaemon(daemon, 5000);
        if (token !== null)
            await rm(token.dir, { recursive: true, force: true });
    });

    for (const { name: profile, alg } of PROFILES) {
        test(`${alg} verifies with JWKS URL`, { timeout: TEST_TIMEOUT_MS },
            async () => {
                const claims = { sub: unique('sub'), scope: unique('scope'),
                    n: 1234567890123 };
                const res = await sign({ profile,
                    claims_json: JSON.stringify(claims), audience: ['billing'] });

                const { payload, protectedHeader } = await jwtVerify(res.token,
                    remoteJwks, { issuer: ISSUER, algorithms: [alg],
                        audience: 'billing', typ: 'JWT' });

                assert.equal(res.alg, alg);
                assert.equal(protectedHeader.alg, alg);
                assert.equal(protectedHeader.kid, res.kid);
                assert.equal(payload.sub, claims.sub);
                assert.equal(payload.scope, claims.scope);
                assert.equal(payload.n, claims.n);
                assert.equal(payload.iat, res.issued_at);
                assert.equal(payload.exp, res.expires_at);
                assert.equal(payload.exp - payload.iat, TTL_SECONDS);
                assert.equal(payload.jti, res.jti);
            });

        test(`${alg} verifies with GetJwks`, { timeout: TEST_TIMEOUT_MS },
            async () => {
                const res = await sign({ profile,
                    claims_json: JSON.stringify({ sub: unique('sub') }) });
                const jwks = createLocalJWKSet(await getJwks());

                const { protectedHeader } = await jwtVerify(res.token, jwks,
                    { issuer: ISSUER, algorithms: [alg] });

                assert.equal(protectedHeader.kid, res.kid);
            });

        test(`${alg} kid is JWK thumbprint`, { timeout: TEST_TIMEOUT_MS },
            async () => {
                const res = await sign({ profile, claims_json: '{}' });
                const jwks = await getJwks();
                const jwk = jwks.keys.find((k) => k.kid === res.kid);

                assert.ok(jwk, `kid ${res.kid} is missing from GetJwks`);
                assert.equal(await calculateJwkThumbprint(jwk, 'sha256'),
                    res.kid);
                for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi'])
                    assert.equal(jwk[member], undefined, `private ${member}`);
            });

        test(`${alg} header and claim order`, { timeout: TEST_TIMEOUT_MS },
            async () => {
                const claims = { sub: unique('sub'), zeta: unique('zeta'),
                    alpha: unique('alpha') };
                const res = await sign({ profile,
                    claims_json: JSON.stringify(claims), audience: ['search'] });
                const [head, body] = res.token.split('.');

                const header = decodeSegment(head);
                assert.deepEqual(Object.keys(header), ['alg', 'kid', 'typ']);
                assert.equal(header.typ, 'JWT');
                assert.deepEqual(Object.keys(decodeSegment(body)),
                    ['sub', 'zeta', 'alpha', 'aud', 'iss', 'iat', 'exp', 'jti']);
            });

        test(`${alg} tampered token rejected`, { timeout: TEST_TIMEOUT_MS },
            async () => {
                const res = await sign({ profile,
                    claims_json: JSON.stringify({ sub: unique('sub') }) });
                const [head, body, sig] = res.token.split('.');
                const options = { issuer: ISSUER, algorithms: [alg] };

                const claims = { ...decodeSegment(body), sub: 'someone-else' };
                const forgedBody = Buffer.from(JSON.stringify(claims))
                    .toString('base64url');
                await assert.rejects(
                    jwtVerify(`${head}.${forgedBody}.${sig}`, remoteJwks, options),
                    errors.JWSSignatureVerificationFailed);

                const sigBytes = Buffer.from(sig, 'base64url');
                sigBytes[sigBytes.length >> 1] ^= 0x01;
                const forgedSig = sigBytes.toString('base64url');
                await assert.rejects(
                    jwtVerify(`${head}.${body}.${forgedSig}`, remoteJwks, options),
                    errors.JWSSignatureVerificationFailed);
            });
    }

    test('empty profile uses default', { timeout: TEST_TIMEOUT_MS }, async () => {
        const named = await sign({ profile: 'default', claims_json: '{}' });
        const res = await sign({ profile: '', claims_json: '{}' });

        assert.equal(res.alg, 'ES256');
        assert.equal(res.kid, named.kid);
    });

    test('JWKS over HTTP equals GetJwks', { timeout: TEST_TIMEOUT_MS },
        async () => {
            const r = await fetch(`http://${httpAddr}/.well-known/jwks.json`,
                { signal: AbortSignal.timeout(5000) });
            assert.equal(r.status, 200);
            assert.match(r.headers.get('content-type') ?? '', /json/);
            const overHttp = await r.json();
            const overGrpc = await getJwks();

            const kids = (set) => set.keys.map((k) => k.kid).sort();
            assert.deepEqual(kids(overHttp), kids(overGrpc));
            assert.equal(overHttp.keys.length, PROFILES.length);
        });

    test('unknown profile is NOT_FOUND', { timeout: TEST_TIMEOUT_MS },
        async () => {
            await assert.rejects(
                sign({ profile: 'no-such-profile', claims_json: '{}' }),
                statusCheck(STATUS.NOT_FOUND, /profile/));
        });

    test('ttl_seconds sets exp', { timeout: TEST_TIMEOUT_MS }, async () => {
        const res = await sign({ profile: 'default', claims_json: '{}',
            ttl_seconds: 60 });
        const { payload } = await jwtVerify(res.token, remoteJwks,
            { issuer: ISSUER, algorithms: ['ES256'] });

        assert.equal(payload.exp - payload.iat, 60);
        assert.equal(res.expires_at - res.issued_at, 60);
    });

    test('ttl above max_ttl is INVALID_ARGUMENT', { timeout: TEST_TIMEOUT_MS },
        async () => {
            await assert.rejects(
                sign({ profile: 'default', claims_json: '{}',
                    ttl_seconds: 3601 }),
                statusCheck(STATUS.INVALID_ARGUMENT, /ttl/));
        });

    test('aud in both places is INVALID_ARGUMENT', { timeout: TEST_TIMEOUT_MS },
        async () => {
            await assert.rejects(
                sign({ profile: 'default', claims_json: '{"aud":"search"}',
                    audience: ['billing'] }),
                statusCheck(STATUS.INVALID_ARGUMENT, /\baud\b/));
        });

    const malformed = {
        'duplicate member': '{"sub":"a","sub":"b"}',
        'array at top level': '["sub"]',
        'truncated object': '{"sub":',
    };
    for (const [name, claimsJson] of Object.entries(malformed)) {
        test(`claims ${name} is INVALID_ARGUMENT`, { timeout: TEST_TIMEOUT_MS },
            async () => {
                await assert.rejects(
                    sign({ profile: 'default', claims_json: claimsJson }),
                    statusCheck(STATUS.INVALID_ARGUMENT, /claims_json/));
            });
    }

    test('JWKS over HTTP has cache headers', { timeout: TEST_TIMEOUT_MS },
        async () => {
            const r = await fetch(`http://${httpAddr}/.well-known/jwks.json`,
                { signal: AbortSignal.timeout(5000) });
            const cacheControl = r.headers.get('cache-control') ?? '';
            const maxAge = /max-age=(\d+)/.exec(cacheControl);

            assert.equal(r.status, 200);
            assert.ok(maxAge, `Cache-Control without max-age: "${cacheControl}"`);
            // max-age stays within pre_publish, 3600 s by default.
            assert.ok(Number(maxAge[1]) <= 3600, `max-age ${maxAge[1]}`);
            assert.ok(r.headers.get('etag'), 'no ETag header');
        });

    const registered = { iss: 'https://caller.invalid', iat: 4102444800,
        exp: 4102444800, jti: 'caller-chosen-jti' };
    for (const [claim, value] of Object.entries(registered)) {
        test(`claim ${claim} is INVALID_ARGUMENT`, { timeout: TEST_TIMEOUT_MS },
            async () => {
                const claims = { sub: unique('sub'), [claim]: value };
                let details = '';

                await assert.rejects(
                    sign({ profile: 'default', claims_json: JSON.stringify(claims) }),
                    (err) => {
                        details = err.details;
                        return statusCheck(STATUS.INVALID_ARGUMENT,
                            new RegExp(`\\b${claim}\\b`))(err);
                    });
                assert.ok(!details.includes(String(value)),
                    `the message repeats the claim value: ${details}`);
            });
    }

    test('SIGTERM exits 0', { timeout: TEST_TIMEOUT_MS }, async () => {
        const result = await stopDaemon(daemon, 15_000);

        assert.equal(result.killed, false, 'no exit within 15 s of SIGTERM');
        assert.equal(result.signal, null);
        assert.equal(result.code, 0);
    });

    test('log has one line per Sign', { timeout: TEST_TIMEOUT_MS }, () => {
        const lines = daemon.log.split('\n').filter((line) =>
            /\bmethod=\S*Sign\b/.test(line) && /\bstatus=OK\b/.test(line));

        assert.equal(lines.length, signedOk, `daemon log:\n${daemon.log}`);
    });

    test('log holds no PIN, claims or tokens', { timeout: TEST_TIMEOUT_MS },
        () => {
            for (const secret of secrets) {
                assert.ok(!daemon.log.includes(secret),
                    'the daemon log contains a PIN, claim value or token');
            }
        });
});
