/* Token profiles: which key signs, for how long, for which audiences. */
#ifndef HSMJWT_PROFILE_H
#define HSMJWT_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsmjwt/alg.h"

/* A profile's encryption: nested JWTs signed, then encrypted to a recipient. */
struct profile_encryption {
	bool present;                 /* the profile has an encryption block */
	char **recipients;            /* names of config recipients it may encrypt to */
	size_t recipient_count;
	bool inline_recipients;       /* also accept a JWK in the request */
	bool required;                /* every token must be encrypted */
};

/* A named recipient of nested JWTs: its public JWK or JWK Set as JSON text. */
struct recipient {
	char *name;
	char *jwk_json;
};

struct profile {
	char *name;
	const struct jose_alg *alg;
	uint32_t ttl;                 /* seconds; used when a request gives 0 */
	uint32_t max_ttl;             /* seconds; a larger request is rejected */
	char **audiences;             /* allowed "aud" values; none: any */
	size_t audience_count;
	const struct profile_encryption *encryption;   /* never NULL once configured */
};

/* Returns true when the profile allows aud (always, when it lists none). */
bool profile_allows_audience(const struct profile *profile, const char *aud);

/* Frees the members of profile (not profile itself). */
void profile_clear(struct profile *profile);

#endif
