/*===- classifier_main.c - the program of qat-compile --emit=exe ----------===*
 *
 * Part of qat-mlir. Linked with a compiled model whose generated header is
 * included first (-include model.h, which defines QAT_MODEL_*):
 *
 *   model IMAGES.idx[.gz] [LABELS.idx[.gz]] [--logits FILE]
 *
 * prints one prediction per line, or with labels a summary (accuracy,
 * latency). --logits writes every image's output as raw little-endian f32.
 * Images are normalized as in training: (pixel / 255 - mean) / std, f32.
 * Plain C and libc only, so it cross-compiles for every target. Exits 3,
 * naming the feature, on a CPU that lacks one the model's code needs.
 *
 *===----------------------------------------------------------------------===*/

#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef QAT_MODEL_RUN
#error "compile with -include <the model's header from qat-compile>"
#endif

static void die(const char *message, const char *path) {
  fprintf(stderr, "error: %s: %s\n", path, message);
  exit(1);
}

/* The whole file; gzip files are read through `gzip -dc`. */
static unsigned char *read_all(const char *path, size_t *size) {
  FILE *file = fopen(path, "rb");
  if (!file)
    die("cannot open", path);
  int first = fgetc(file), second = fgetc(file);
  int gzipped = first == 0x1f && second == 0x8b;
  /* A pipe cannot be rewound: the two bytes read go first into the data,
   * and gzip needs a file it can open again. */
  int seekable = fseek(file, 0, SEEK_SET) == 0;
  size_t capacity = 1 << 20, used = 0;
  unsigned char *data = malloc(capacity);
  if (!seekable && gzipped)
    die("a gzip file must be a regular file, not a pipe (decompress it "
        "first)",
        path);
  if (!seekable) {
    if (first != EOF)
      data[used++] = (unsigned char)first;
    if (second != EOF)
      data[used++] = (unsigned char)second;
  }
  FILE *stream = file;
  if (gzipped) {
    fclose(file);
    if (strchr(path, '\'') != NULL)
      die("a gzip file name must not contain a quote", path);
    char command[4200];
    if (snprintf(command, sizeof command, "gzip -dc -- '%s'", path) >=
        (int)sizeof command)
      die("path too long", path);
    stream = popen(command, "r");
    if (!stream)
      die("cannot run gzip", path);
  }
  for (;;) {
    if (used == capacity) {
      capacity *= 2;
      data = realloc(data, capacity);
    }
    size_t n = fread(data + used, 1, capacity - used, stream);
    if (n == 0)
      break;
    used += n;
  }
  int failed = gzipped ? pclose(stream) != 0 : ferror(stream);
  if (!gzipped)
    fclose(stream);
  if (failed)
    die("cannot read (corrupt gzip data?)", path);
  *size = used;
  return data;
}

static uint32_t big_endian(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

/* An IDX file of unsigned bytes with `rank` dimensions. */
static const unsigned char *read_idx(const char *path, int rank,
                                     uint32_t dims[3], unsigned char **owner) {
  size_t size;
  unsigned char *data = read_all(path, &size);
  *owner = data;
  size_t header = 4 + 4 * (size_t)rank;
  if (size < header || data[0] != 0 || data[1] != 0 || data[2] != 0x08)
    die("not an IDX file of unsigned bytes", path);
  if (data[3] != rank)
    die(rank == 3 ? "not an IDX image file (3 dimensions)"
                  : "not an IDX label file (1 dimension)",
        path);
  size_t count = 1;
  for (int d = 0; d < rank; ++d) {
    dims[d] = big_endian(data + 4 + 4 * d);
    if (__builtin_mul_overflow(count, (size_t)dims[d], &count))
      die("its header promises more bytes than memory can hold", path);
  }
  if (size - header != count)
    die("truncated or oversized: its header promises another size", path);
  return data + header;
}

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  /* Before any model code: on a CPU without the target's features it
   * would die of an illegal instruction, saying nothing. */
  const char *missing = QAT_MODEL_MISSING_CPU_FEATURE();
  if (missing) {
    fprintf(stderr,
            "error: %s: model '%s' was compiled for %s, which needs the CPU "
            "feature '%s'; this CPU lacks it. Compile it with qat-compile "
            "--target=%s (this CPU's best; --target=host on it).\n",
            argv[0], QAT_MODEL_NAME, QAT_MODEL_TARGET, missing,
            QAT_MODEL_BEST_TARGET());
    return 3;
  }
  /* The compiled model allocates its temporaries on every call; by default
   * glibc maps each large one anew and unmaps it on free, so every call
   * would page-fault them all in again. Keep freed memory instead. */
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  const char *images_path = NULL, *labels_path = NULL, *logits_path = NULL;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--logits") == 0 && i + 1 < argc)
      logits_path = argv[++i];
    else if (argv[i][0] == '-') {
      fprintf(stderr,
              "usage: %s IMAGES.idx[.gz] [LABELS.idx[.gz]] "
              "[--logits FILE]\n",
              argv[0]);
      return 1;
    } else if (!images_path)
      images_path = argv[i];
    else if (!labels_path)
      labels_path = argv[i];
    else {
      fprintf(stderr, "error: unexpected argument '%s'\n", argv[i]);
      return 1;
    }
  }
  if (!images_path) {
    fprintf(stderr,
            "usage: %s IMAGES.idx[.gz] [LABELS.idx[.gz]] "
            "[--logits FILE]\n",
            argv[0]);
    return 1;
  }
  uint32_t dims[3], label_dims[3];
  unsigned char *image_owner, *label_owner = NULL;
  const unsigned char *pixels = read_idx(images_path, 3, dims, &image_owner);
  const size_t batch = QAT_MODEL_BATCH;
  const size_t per_image = QAT_MODEL_INPUT_ELEMENTS / QAT_MODEL_BATCH;
  const size_t classes = QAT_MODEL_CLASSES;
  if ((size_t)dims[1] * dims[2] != per_image)
    die("image size does not match the model's input", images_path);
  const size_t count = dims[0];
  const unsigned char *labels = NULL;
  if (labels_path) {
    labels = read_idx(labels_path, 1, label_dims, &label_owner);
    if (label_dims[0] != count)
      die("holds a different number of labels than there are images",
          labels_path);
    for (size_t i = 0; i < count; ++i)
      if (labels[i] >= classes) {
        fprintf(stderr,
                "error: %s: label %zu is %u but the model has %zu classes\n",
                labels_path, i, (unsigned)labels[i], classes);
        return 1;
      }
  }

  float *input = calloc(QAT_MODEL_INPUT_ELEMENTS, sizeof(float));
  float *output = malloc(QAT_MODEL_OUTPUT_ELEMENTS * sizeof(float));
  float *logits = logits_path ? malloc(count * classes * sizeof(float)) : NULL;
  unsigned char *predictions = malloc(count ? count : 1);
  double seconds = 0;
  size_t batches = 0;
  for (size_t start = 0; start < count; start += batch) {
    size_t rows = count - start < batch ? count - start : batch;
    memset(input, 0, QAT_MODEL_INPUT_ELEMENTS * sizeof(float));
    for (size_t i = 0; i < rows * per_image; ++i) {
      float scaled = (float)pixels[start * per_image + i] / 255.0f;
      input[i] = (scaled - QAT_MODEL_INPUT_MEAN) / QAT_MODEL_INPUT_STD;
    }
    double begin = now_seconds();
    QAT_MODEL_RUN(input, output);
    seconds += now_seconds() - begin;
    ++batches;
    for (size_t r = 0; r < rows; ++r) {
      const float *row = output + r * classes;
      size_t best = 0; /* the first maximum, like argmax */
      for (size_t c = 1; c < classes; ++c)
        if (row[c] > row[best])
          best = c;
      predictions[start + r] = (unsigned char)best;
      if (logits)
        memcpy(logits + (start + r) * classes, row, classes * sizeof(float));
    }
  }
  if (logits_path) {
    FILE *file = fopen(logits_path, "wb");
    if (!file ||
        fwrite(logits, sizeof(float), count * classes, file) !=
            count * classes ||
        fclose(file) != 0)
      die("cannot write", logits_path);
  }
  if (!labels) {
    for (size_t i = 0; i < count; ++i)
      printf("%d\n", predictions[i]);
  } else {
    size_t correct = 0;
    for (size_t i = 0; i < count; ++i)
      correct += predictions[i] == labels[i];
    printf("model %s (%s): %zu images, %zu correct, accuracy %.2f%%\n",
           QAT_MODEL_NAME, QAT_MODEL_TARGET, count, correct,
           count ? 100.0 * correct / count : 0.0);
    printf("latency: %.3f ms per batch of %zu, %.2f us per image, "
           "%.0f images/s\n",
           batches ? 1e3 * seconds / batches : 0.0, batch,
           count ? 1e6 * seconds / count : 0.0,
           seconds > 0 ? count / seconds : 0.0);
  }
  free(input);
  free(output);
  free(logits);
  free(predictions);
  free(image_owner);
  free(label_owner);
  return 0;
}
