/* Token profiles: which key signs, for how long, for which audiences. */
#ifndef HSMJWT_PROFILE_H
#define HSMJWT_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsmjwt/alg.h"

struct profile {
	char *name;
	const struct jose_alg *alg;
	uint32_t ttl;                 /* seconds; used when a request gives 0 */
	uint32_t max_ttl;             /* seconds; a larger request is rejected */
	char **audiences;             /* allowed "aud" values; none: any */
	size_t audience_count;
};

/* Returns true when the profile allows aud (always, when it lists none). */
bool profile_allows_audience(const struct profile *profile, const char *aud);

/* Frees the members of profile (not profile itself). */
void profile_clear(struct profile *profile);

#endif
