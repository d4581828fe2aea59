// Interop for every asymmetric JWS algorithm and every nested-JWT pair of
// JWE algorithms: jose (an independent JOSE library) verifies the tokens of
// hsmjwtd against the JWKS URL, and decrypts nested JWTs with recipient keys
// that it generated itself.
//
// Run from the repository root: node --test tests/interop/algorithms.test.mjs
// The daemon is $HSMJWTD, or build/src/daemon/hsmjwtd.

import assert from 'node:assert/strict';
import { writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
    compactDecrypt, createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify,
} from 'jose';

import {
    call, createClients, createToken, findDaemon, freePort, renderConfig,
    startDaemon, stopDaemon, waitReady,
} from './lib/daemon.mjs';

const ISSUER = 'https://hsmjwt-interop.invalid';
const TOKEN_LABEL = 'hsmjwt-interop-algs';
const ASYMMETRIC_ALGS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'RS256', 'RS384',
    'RS512', 'PS256', 'PS384', 'PS512'];
const PROFILES = [
    ...ASYMMETRIC_ALGS.map((alg) => ({ name: alg.toLowerCase(), alg })),
    { name: 'nested', alg: 'ES256' },
];
// The nested profile is the last in the config, so its encryption block
// can follow what renderConfig writes.
const NESTED_ENCRYPTION = '    encryption:\n      inline_recipients: true\n';

const ENCS = ['A128GCM', 'A192GCM', 'A256GCM', 'A128CBC-HS256',
    'A192CBC-HS384', 'A256CBC-HS512'];
const ECDH_ALGS = ['ECDH-ES', 'ECDH-ES+A128KW', 'ECDH-ES+A192KW',
    'ECDH-ES+A256KW'];
// Recipient keys. RSA needs one key per algorithm, because WebCrypto binds the
// OAEP hash to the key. For ECDH one key per curve serves all four algorithms.
const RECIPIENTS = [
    { name: 'rsa-oaep', generate: ['RSA-OAEP', { modulusLength: 2048 }],
        algs: ['RSA-OAEP'] },
    { name: 'rsa-oaep-256', generate: ['RSA-OAEP-256', { modulusLength: 2048 }],
        algs: ['RSA-OAEP-256'] },
    { name: 'p-256', generate: ['ECDH-ES', { crv: 'P-256' }], algs: ECDH_ALGS },
    { name: 'p-384', generate: ['ECDH-ES', { crv: 'P-384' }], algs: ECDH_ALGS },
    { name: 'p-521', generate: ['ECDH-ES', { crv: 'P-521' }], algs: ECDH_ALGS },
    { name: 'x25519', generate: ['ECDH-ES', { crv: 'X25519' }], algs: ECDH_ALGS },
];
// An ES512 signature is r || s, each padded to 66 bytes. The P-521 group
// order is about 2^521, so r or s starts with a zero byte in about 3 of 4
// signatures and with two zero bytes in about 1 of 256 (estimates). 50
// tokens meet the second case with a chance of about 1 in 5.
const ES512_TOKENS = 50;

const STARTUP_TIMEOUT_MS = 60_000;   // six RSA key generations in SoftHSM
const CALL_TIMEOUT_MS = 10_000;
const TEST_TIMEOUT_MS = 30_000;

let token = null;
let daemon = null;
let clients = null;
let remoteJwks = null;
const recipientKeys = new Map();

async function sign(request) {
    return call(clients.tokens, 'Sign', { audience: [], ...request },
        CALL_TIMEOUT_MS);
}

function decodeHeader(compact) {
    return JSON.parse(Buffer.from(compact.split('.')[0], 'base64url')
        .toString('utf8'));
}

describe('hsmjwtd algorithm interop', { timeout: 300_000 }, () => {
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
            pinFile, profiles: PROFILES,
        }) + NESTED_ENCRYPTION);

        daemon = startDaemon(bin, configPath, token.env);
        await daemon.spawned;
        clients = createClients(grpcAddr);
        await waitReady(daemon, clients, httpAddr, STARTUP_TIMEOUT_MS);
        remoteJwks = createRemoteJWKSet(
            new URL(`http://${httpAddr}/.well-known/jwks.json`),
            { timeoutDuration: 5000 });

        for (const { name, generate } of RECIPIENTS) {
            const [alg, options] = generate;
            const pair = await generateKeyPair(alg,
                { ...options, extractable: true });
            const publicJwk = { ...await exportJWK(pair.publicKey),
                kid: `recipient-${name}` };
            recipientKeys.set(name, { privateKey: pair.privateKey, publicJwk });
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

    for (const alg of ASYMMETRIC_ALGS) {
        test(`${alg} verifies with JWKS URL`, { timeout: TEST_TIMEOUT_MS },
            async () => {
                const res = await sign({ profile: alg.toLowerCase(),
                    claims_json: JSON.stringify({ sub: `${alg}-user` }) });

                const { payload, protectedHeader } = await jwtVerify(res.token,
                    remoteJwks, { issuer: ISSUER, algorithms: [alg], typ: 'JWT' });

                assert.equal(protectedHeader.alg, alg);
                assert.equal(protectedHeader.kid, res.kid);
                assert.equal(payload.sub, `${alg}-user`);
            });

        test(`${alg} rejected under another algorithm`,
            { timeout: TEST_TIMEOUT_MS }, async () => {
                const res = await sign({ profile: alg.toLowerCase(),
                    claims_json: '{}' });
                const other = alg === 'ES256' ? 'ES384' : 'ES256';

                await assert.rejects(jwtVerify(res.token, remoteJwks,
                    { issuer: ISSUER, algorithms: [other] }));
            });
    }

    test(`ES512 ${ES512_TOKENS} tokens verify`, { timeout: TEST_TIMEOUT_MS },
        async () => {
            const failures = [];
            for (let i = 0; i < ES512_TOKENS; i++) {
                const res = await sign({ profile: 'es512',
                    claims_json: JSON.stringify({ n: i }) });
                try {
                    await jwtVerify(res.token, remoteJwks,
                        { issuer: ISSUER, algorithms: ['ES512'] });
                } catch (e) {
                    failures.push(`token ${i}: ${e.code ?? e.name}: ${e.message}`);
                }
            }
            assert.deepEqual(failures, []);
        });

    for (const { name, algs } of RECIPIENTS) {
        for (const alg of algs) {
            for (const enc of ENCS) {
                test(`nested ${alg} ${enc} to ${name}`,
                    { timeout: TEST_TIMEOUT_MS }, async () => {
                        const { privateKey, publicJwk } = recipientKeys.get(name);
                        const sub = `${name}/${alg}/${enc}`;
                        const res = await sign({ profile: 'nested',
                            claims_json: JSON.stringify({ sub }),
                            encryption: { recipient_jwk_json: JSON.stringify(publicJwk),
                                alg, enc } });

                        const { plaintext, protectedHeader } = await compactDecrypt(
                            res.token, privateKey,
                            { keyManagementAlgorithms: [alg],
                                contentEncryptionAlgorithms: [enc] });
                        const inner = new TextDecoder().decode(plaintext);
                        const { payload } = await jwtVerify(inner, remoteJwks,
                            { issuer: ISSUER, algorithms: ['ES256'] });

                        assert.equal(protectedHeader.cty, 'JWT');
                        assert.equal(protectedHeader.kid, publicJwk.kid);
                        assert.equal(protectedHeader.zip, undefined);
                        assert.equal(decodeHeader(res.token).alg, alg);
                        assert.equal(payload.sub, sub);
                    });
            }
        }
    }
});
