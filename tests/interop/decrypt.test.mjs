// Interop for Decrypt: jose (an independent JOSE library) encrypts to the
// "use":"enc" keys of the JWKS that hsmjwtd publishes over HTTP, and Decrypt
// over @grpc/grpc-js returns the plaintext. The daemon runs on its own
// SoftHSM token and free loopback ports.
//
// Run from the repository root: node --test tests/interop/decrypt.test.mjs
// The daemon is $HSMJWTD, or build/src/daemon/hsmjwtd.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { CompactEncrypt, importJWK } from 'jose';

import {
    STATUS, call, createClients, createToken, findDaemon, freePort,
    renderConfig, startDaemon, stopDaemon, waitReady,
} from './lib/daemon.mjs';

const ISSUER = 'https://hsmjwt-interop.invalid';
const TOKEN_LABEL = 'hsmjwt-interop-decrypt';
// RSA-OAEP-256 is left out: SoftHSM 2.6.1 cannot decrypt it, so the daemon
// may publish no key for it.
const ALGS = ['RSA-OAEP', 'ECDH-ES', 'ECDH-ES+A128KW', 'ECDH-ES+A256KW'];
const ENCS = ['A128GCM', 'A256GCM', 'A128CBC-HS256', 'A256CBC-HS512'];
// renderConfig writes no "keys:" block, so this one is appended after the profiles.
const KEYS_BLOCK = `keys:\n  decryption: [${ALGS.join(', ')}]\n`;
const FAILED_PREFIX = 'JWE could not be decrypted: ';

const STARTUP_TIMEOUT_MS = 60_000;   // RSA key generation in SoftHSM included
const CALL_TIMEOUT_MS = 10_000;
const TEST_TIMEOUT_MS = 30_000;

let token = null;
let daemon = null;
let clients = null;
// The "use":"enc" members of the HTTP JWKS, by alg.
const encKeys = new Map();

// Plaintext with NUL and non-UTF-8 bytes and a random part.
function makePlaintext() {
    return Buffer.concat([Buffer.from('interop plaintext '), randomBytes(21),
        Buffer.from([0x00, 0xff, 0xc3])]);
}

async function encryptTo(jwk, enc, plaintext) {
    const key = await importJWK(jwk, jwk.alg);
    return new CompactEncrypt(plaintext)
        .setProtectedHeader({ alg: jwk.alg, enc, kid: jwk.kid })
        .encrypt(key);
}

function decrypt(compact) {
    return call(clients.tokens, 'Decrypt', { token: compact },
        CALL_TIMEOUT_MS);
}

// Flips the lowest bit of the middle byte of part index of a compact JWE.
function flipBit(compact, index) {
    const parts = compact.split('.');
    const bytes = Buffer.from(parts[index], 'base64url');
    bytes[bytes.length >> 1] ^= 0x01;
    parts[index] = bytes.toString('base64url');
    return parts.join('.');
}

async function fetchJwks(httpAddr) {
    const response = await fetch(`http://${httpAddr}/.well-known/jwks.json`,
        { signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
    assert.equal(response.status, 200);
    return response.json();
}

// Validates a rejection for assert.rejects: INVALID_ARGUMENT with the one
// message that every failed decryption gets.
function rejectedAsInvalid(err) {
    assert.equal(err.code, STATUS.INVALID_ARGUMENT,
        `status: ${err.code} ${err.details}`);
    assert.ok(err.details.startsWith(FAILED_PREFIX), err.details);
    return true;
}

function keyFor(alg) {
    const jwk = encKeys.get(alg);
    assert.ok(jwk, `the JWKS has no "use":"enc" key with alg ${alg}`);
    return jwk;
}

describe('hsmjwtd Decrypt interop', { timeout: 300_000 }, () => {
    before(async () => {
        const bin = await findDaemon();
        const grpcAddr = `127.0.0.1:${await freePort()}`;
        const httpAddr = `127.0.0.1:${await freePort()}`;

        token = await createToken(TOKEN_LABEL);
        const pinFile = join(token.dir, 'pin');
        await writeFile(pinFile, token.pin, { mode: 0o600 });
        const configPath = join(token.dir, 'hsmjwtd.yaml');
        await writeFile(configPath, renderConfig({
            issuer: ISSUER, grpcAddr, httpAddr, tokenLabel: TOKEN_LABEL,
            pinFile, profiles: [{ name: 'default', alg: 'ES256' }],
        }) + KEYS_BLOCK);

        daemon = startDaemon(bin, configPath, token.env);
        await daemon.spawned;
        clients = createClients(grpcAddr);
        await waitReady(daemon, clients, httpAddr, STARTUP_TIMEOUT_MS);

        for (const jwk of (await fetchJwks(httpAddr)).keys) {
            if (jwk.use !== 'enc')
                continue;
            assert.ok(!encKeys.has(jwk.alg), `two "use":"enc" keys for ${jwk.alg}`);
            encKeys.set(jwk.alg, jwk);
        }
    }, { timeout: STARTUP_TIMEOUT_MS + 30_000 });

    after(async () => {
        clients?.close();
        if (daemon !== null) {
            const result = await stopDaemon(daemon, 10_000);
            assert.equal(result.code, 0, `hsmjwtd exit: ${JSON.stringify(result)}` +
                `; its log:\n${daemon.log}`);
        }
        if (token !== null)
            await rm(token.dir, { recursive: true, force: true });
    });

    test('JWKS has one enc key per alg', () => {
        assert.deepEqual([...encKeys.keys()].sort(), [...ALGS].sort());
    });

    for (const alg of ALGS) {
        for (const enc of ENCS) {
            test(`${alg} ${enc} decrypts`, { timeout: TEST_TIMEOUT_MS },
                async () => {
                    const jwk = keyFor(alg);
                    const plaintext = makePlaintext();
                    const compact = await encryptTo(jwk, enc, plaintext);

                    const res = await decrypt(compact);

                    assert.deepEqual(Buffer.from(res.plaintext), plaintext);
                    assert.equal(res.kid, jwk.kid);
                    assert.equal(res.protected_header_json, Buffer.from(
                        compact.split('.')[0], 'base64url').toString('utf8'));
                });
        }

        test(`${alg} tampered tag rejected`, { timeout: TEST_TIMEOUT_MS },
            async () => {
                const compact = await encryptTo(keyFor(alg), 'A256GCM',
                    makePlaintext());

                await assert.rejects(decrypt(flipBit(compact, 4)),
                    rejectedAsInvalid);
            });
    }

    test('tampered ciphertext rejected', { timeout: TEST_TIMEOUT_MS },
        async () => {
            const compact = await encryptTo(keyFor('ECDH-ES+A128KW'),
                'A128CBC-HS256', makePlaintext());

            await assert.rejects(decrypt(flipBit(compact, 3)),
                rejectedAsInvalid);
        });
});
