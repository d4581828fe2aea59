#include <stdlib.h>
#include <string.h>

#include "hsmjwt/profile.h"

bool
profile_allows_audience(const struct profile *profile, const char *aud)
{
	size_t i;

	if (profile->audience_count == 0)
		return true;

	for (i = 0; i < profile->audience_count; i++) {
		if (strcmp(profile->audiences[i], aud) == 0)
			return true;
	}
	return false;
}

void
profile_clear(struct profile *profile)
{
	size_t i;

	if (profile == NULL)
		return;

	for (i = 0; i < profile->audience_count; i++)
		free(profile->audiences[i]);
	free(profile->audiences);
	free(profile->name);
	memset(profile, 0, sizeof(*profile));
}
