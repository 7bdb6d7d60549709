#ifndef MOCKLLM_SERVER_H
#define MOCKLLM_SERVER_H
/* One mockllm worker thread: its own libuv loop serving one listening socket. */
#include "mock.h"

struct mock_worker;

/* Starts worker index (of nworkers) on the listening socket fd, which it owns from then on (it is
 * closed on failure too). Returns 0 and sets *out, or a negative libuv error. */
int mock_worker_start(struct mock_worker **out, unsigned index, unsigned nworkers, int fd);
/* Asks the worker to close its listener and connections; safe from any thread. */
void mock_worker_stop(struct mock_worker *w);
/* Waits for a stopped worker's thread to end and frees it; mock_worker_join(NULL) is a no-op. */
void mock_worker_join(struct mock_worker *w);

#endif
