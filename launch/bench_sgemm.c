// The single-core sgemm roof for launch/bench.sh: the OpenBLAS that mmtrain links (pkg-config openblas),
// one thread, C (n, n) = A (n, n) · B (n, n), best of `reps` timed calls after one warm-up.
// Also checks a 64^3 product against a double-precision loop (max relative error), so a kernel chosen by
// OPENBLAS_CORETYPE can be trusted before it is used. Prints one JSON line.
//   cc -O2 bench_sgemm.c $(pkg-config --cflags --libs openblas) -o sgemm && ./sgemm [n] [reps]
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

char *openblas_get_corename(void);
void openblas_set_num_threads(int);

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

static double check(void) {
  enum { m = 64 };
  static float a[m * m], b[m * m], c[m * m];
  for (int i = 0; i < m * m; i++) { a[i] = (float)((i * 7919) % 97) / 97 - 0.5f; b[i] = (float)((i * 104729) % 89) / 89 - 0.5f; }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, m, m, 1, a, m, b, m, 0, c, m);
  double worst = 0;
  for (int i = 0; i < m; i++)
    for (int j = 0; j < m; j++) {
      double s = 0, mag = 0;
      for (int k = 0; k < m; k++) { s += (double)a[i * m + k] * b[j * m + k]; mag += fabs((double)a[i * m + k] * b[j * m + k]); }
      double e = fabs(c[i * m + j] - s) / (mag > 0 ? mag : 1);
      if (e > worst) worst = e;
    }
  return worst;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1024, reps = argc > 2 ? atoi(argv[2]) : 5;
  openblas_set_num_threads(1);
  float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
  for (long i = 0; i < (long)n * n; i++) { a[i] = (float)(i % 13) / 13 - 0.5f; b[i] = (float)(i % 11) / 11 - 0.5f; c[i] = 0; }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);  // warm-up
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    double t = now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    t = now() - t;
    if (t < best) best = t;
  }
  printf("{\"core\": \"%s\", \"n\": %d, \"gflops\": %.2f, \"max_rel_err\": %.3g}\n", openblas_get_corename(), n,
         2.0 * n * n * (double)n / best / 1e9, check());
  free(a); free(b); free(c);
  return 0;
}
