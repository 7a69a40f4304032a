// See include/mapping_guard.h.
#define _GNU_SOURCE
#include "mapping_guard.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { slots = 16, messageBytes = 1024 };

static struct {
  _Atomic(const char *) base;  // NULL: slot free
  size_t length;
  unsigned delay;
  char message[messageBytes];
} guards[slots];

static struct sigaction previous;
static pthread_once_t installed = PTHREAD_ONCE_INIT;
static pthread_mutex_t claiming = PTHREAD_MUTEX_INITIALIZER;

static void on_sigbus(int sig, siginfo_t *info, void *context) {
  const char *address = (const char *)info->si_addr;
  for (int k = 0; k < slots; k++) {
    const char *base = atomic_load(&guards[k].base);
    if (base && address >= base && address < base + guards[k].length) {
      // A wait cut short by a signal is mpirun stopping this rank after another one's line: exit without one.
      struct timespec wait = {guards[k].delay, 0};
      if (guards[k].delay > 0 && nanosleep(&wait, &wait) != 0) _exit(1);
      ssize_t ignored = write(2, guards[k].message, strlen(guards[k].message));
      (void)ignored;
      _exit(1);
    }
  }
  // Not ours: as if this handler had never been installed.
  if ((previous.sa_flags & SA_SIGINFO) && previous.sa_sigaction) {
    previous.sa_sigaction(sig, info, context);
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(sig);
  } else {
    sigaction(SIGBUS, &previous, NULL);  // the default action, when the instruction runs again
  }
}

static void install(void) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_sigaction = on_sigbus;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  sigaction(SIGBUS, &action, &previous);
}

int mmk_guard_mapping(const void *base, size_t length, const char *message, unsigned delay_seconds) {
  pthread_once(&installed, install);
  pthread_mutex_lock(&claiming);
  int slot = -1;
  for (int k = 0; k < slots && slot < 0; k++) {
    if (atomic_load(&guards[k].base) == NULL) slot = k;
  }
  if (slot >= 0) {
    guards[slot].length = length;
    guards[slot].delay = delay_seconds;
    strncpy(guards[slot].message, message, messageBytes - 1);
    guards[slot].message[messageBytes - 1] = 0;
    atomic_store(&guards[slot].base, (const char *)base);  // published last: the handler sees a whole guard
  }
  pthread_mutex_unlock(&claiming);
  return slot;
}

void mmk_unguard_mapping(int slot) {
  if (slot >= 0 && slot < slots) atomic_store(&guards[slot].base, NULL);
}
