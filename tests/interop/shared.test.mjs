// Interop for A128KW and A256KW nested JWTs: hsmjwtd wraps the CEK with an
// AES key shared in the token, and jose decrypts with the same key, which
// the test made and imported with pkcs11-tool.
//
// Run from the repository root: node --test tests/interop/shared.test.mjs
// The daemon is $HSMJWTD, or build/src/daemon/hsmjwtd.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { compactDecrypt, createRemoteJWKSet, jwtVerify } from 'jose';

import {
    SOFTHSM_MODULE, call, createClients, createToken, findDaemon, freePort,
    renderConfig, startDaemon, stopDaemon, waitReady,
} from './lib/daemon.mjs';

const execFileAsync = promisify(execFile);
const ISSUER = 'https://hsmjwt-interop.invalid';
const TOKEN_LABEL = 'hsmjwt-interop-kw';
const SHARED = [
    { kid: 'partner-128', alg: 'A128KW', secret: randomBytes(16) },
    { kid: 'partner-256', alg: 'A256KW', secret: randomBytes(32) },
];
const ENCS = ['A128GCM', 'A256GCM', 'A128CBC-HS256', 'A256CBC-HS512'];
const TIMEOUT_MS = 30_000;

let token = null;
let daemon = null;
let clients = null;
let remoteJwks = null;

// Writes secret into the token as an AES key that may wrap; the PIN goes
// through the environment, not argv.
async function importSharedKey(kid, secret) {
    const path = join(token.dir, `${kid}.bin`);
    await writeFile(path, secret, { mode: 0o600 });
    try {
        await execFileAsync('pkcs11-tool', ['--module', SOFTHSM_MODULE,
            '--token-label', TOKEN_LABEL, '--login', '--pin', 'env:HSMJWT_TEST_PIN',
            '--write-object', path, '--type', 'secrkey',
            '--key-type', `AES:${secret.length}`, '--label', `hsmjwt-kw:${kid}`,
            '--usage-wrap', '--sensitive'],
        { env: { ...token.env, HSMJWT_TEST_PIN: token.pin }, timeout: TIMEOUT_MS });
    } finally {
        await rm(path, { force: true });
    }
}

describe('hsmjwtd shared-key nested JWTs', { timeout: 120_000 }, () => {
    before(async () => {
        const bin = await findDaemon();
        const grpcAddr = `127.0.0.1:${await freePort()}`;
        const httpAddr = `127.0.0.1:${await freePort()}`;

        token = await createToken(TOKEN_LABEL);
        let recipients = 'recipients:\n';
        for (const { kid, alg, secret } of SHARED) {
            await importSharedKey(kid, secret);
            const jwkFile = join(token.dir, `${kid}.jwk.json`);
            await writeFile(jwkFile, JSON.stringify({ kty: 'oct', kid, alg }));
            recipients += `  - name: ${kid}\n    jwk_file: ${jwkFile}\n`;
        }
        const pinFile = join(token.dir, 'pin');
        await writeFile(pinFile, token.pin, { mode: 0o600 });
        const configPath = join(token.dir, 'hsmjwtd.yaml');
        const config = renderConfig({ issuer: ISSUER, grpcAddr, httpAddr,
            tokenLabel: TOKEN_LABEL, pinFile,
            profiles: [{ name: 'nested', alg: 'ES256' }] });
        await writeFile(configPath, config.replace('profiles:\n', recipients + 'profiles:\n') +
            `    encryption:\n      recipients: [${SHARED.map((s) => s.kid).join(', ')}]\n`);

        daemon = startDaemon(bin, configPath, token.env);
        await daemon.spawned;
        clients = createClients(grpcAddr);
        await waitReady(daemon, clients, httpAddr, TIMEOUT_MS);
        remoteJwks = createRemoteJWKSet(new URL(`http://${httpAddr}/.well-known/jwks.json`),
            { timeoutDuration: 5000 });
    }, { timeout: 60_000 });

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

    for (const { kid, alg, secret } of SHARED) {
        for (const enc of ENCS) {
            test(`${alg} ${enc} decrypts with the shared key`, { timeout: TIMEOUT_MS },
                async () => {
                    const res = await call(clients.tokens, 'Sign', {
                        profile: 'nested', claims_json: '{"sub":"shared"}', audience: [],
                        encryption: { recipient: kid, alg, enc },
                    }, TIMEOUT_MS);

                    const { plaintext, protectedHeader } = await compactDecrypt(res.token,
                        new Uint8Array(secret));
                    assert.deepEqual(protectedHeader, { alg, enc, cty: 'JWT', kid });
                    const { payload } = await jwtVerify(new TextDecoder().decode(plaintext),
                        remoteJwks, { issuer: ISSUER, algorithms: ['ES256'] });
                    assert.equal(payload.sub, 'shared');
                });
        }

        test(`${alg} fails with another key`, { timeout: TIMEOUT_MS }, async () => {
            const res = await call(clients.tokens, 'Sign', {
                profile: 'nested', claims_json: '{}', audience: [],
                encryption: { recipient: kid, alg, enc: 'A256GCM' },
            }, TIMEOUT_MS);
            await assert.rejects(compactDecrypt(res.token,
                new Uint8Array(randomBytes(secret.length))));
        });
    }
});
