#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"

#define LISTEN_BACKLOG 128

const char *
listen_unix_path(const char *address)
{
	return strncmp(address, "unix:", 5) == 0 ? address + 5 : NULL;
}

/* Returns true when a process accepts connections on the unix socket at path. */
static bool
listen_socket_in_use(const char *path)
{
	struct sockaddr_un sun;
	bool in_use;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return false;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	in_use = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return in_use;
}

hj_err
listen_remove_stale_socket(const char *path, struct hj_error *err)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return HJ_OK;
	if (!S_ISSOCK(st.st_mode))
		return hj_error_set(err, HJ_ERR_CONFIG,
		    "%s exists and is not a socket; remove it or choose another path", path);
	if (listen_socket_in_use(path))
		return hj_error_set(err, HJ_ERR_CONFIG, "%s is in use by another process, "
		    "such as another hsmjwtd; stop it or choose another path", path);
	if (unlink(path) != 0)
		return hj_error_set(err, HJ_ERR_CONFIG, "cannot remove the old socket %s: %s",
		    path, strerror(errno));
	return HJ_OK;
}

static hj_err
listen_open_unix(const char *address, const char *path, int *fdp,
    struct hj_error *err)
{
	struct sockaddr_un sun;
	hj_err r;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return hj_error_set(err, HJ_ERR_CONFIG, "%s: the socket path is too long",
		    address);
	strcpy(sun.sun_path, path);
	if ((r = listen_remove_stale_socket(path, err)) != HJ_OK)
		return r;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return hj_error_set(err, HJ_ERR_CONFIG, "%s: socket: %s", address, strerror(errno));
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(fd, LISTEN_BACKLOG) != 0) {
		r = hj_error_set(err, HJ_ERR_CONFIG, "cannot listen on %s: %s", address,
		    strerror(errno));
		close(fd);
		return r;
	}
	*fdp = fd;
	return HJ_OK;
}

/* Splits "HOST:PORT" or "[V6]:PORT" into host and port. */
static hj_err
listen_split(const char *address, char *host, size_t host_size, const char **portp,
    struct hj_error *err)
{
	const char *colon = strrchr(address, ':');
	const char *start = address, *end = colon;

	if (colon == NULL || colon[1] == '\0')
		return hj_error_set(err, HJ_ERR_CONFIG,
		    "%s: expected HOST:PORT, [IPV6]:PORT or unix:PATH", address);
	if (address[0] == '[') {
		start = address + 1;
		if (end == address || end[-1] != ']')
			return hj_error_set(err, HJ_ERR_CONFIG,
			    "%s: an IPv6 address must be written [ADDRESS]:PORT", address);
		end--;
	}
	if ((size_t)(end - start) >= host_size)
		return hj_error_set(err, HJ_ERR_CONFIG, "%s: the host is too long", address);
	memcpy(host, start, (size_t)(end - start));
	host[end - start] = '\0';
	*portp = colon + 1;
	return HJ_OK;
}

static int
listen_bind_first(const struct addrinfo *list)
{
	const struct addrinfo *ai;
	int fd, one = 1;

	for (ai = list; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, LISTEN_BACKLOG) == 0)
			return fd;
		close(fd);
	}
	return -1;
}

hj_err
listen_open(const char *address, int *fdp, struct hj_error *err)
{
	struct addrinfo hints, *list = NULL;
	const char *unix_path = listen_unix_path(address);
	const char *port = NULL;
	char host[256];
	hj_err r;
	int rc, fd;

	*fdp = -1;
	if (unix_path != NULL)
		return listen_open_unix(address, unix_path, fdp, err);
	if ((r = listen_split(address, host, sizeof(host), &port, err)) != HJ_OK)
		return r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &list);
	if (rc != 0)
		return hj_error_set(err, HJ_ERR_CONFIG, "%s: %s", address, gai_strerror(rc));

	fd = listen_bind_first(list);
	r = fd >= 0 ? HJ_OK : hj_error_set(err, HJ_ERR_CONFIG,
	    "cannot listen on %s: %s", address, strerror(errno));
	freeaddrinfo(list);
	*fdp = fd;
	return r;
}
