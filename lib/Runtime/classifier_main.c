/*===- classifier_main.c - the program of qat-compile --emit=exe ----------===*
 *
 * Part of qat-mlir. Linked with a compiled model whose generated header is
 * included first (-include model.h, which defines QAT_MODEL_*):
 *
 *   model IMAGES.idx[.gz]|IMAGES.npy [LABELS.idx[.gz]|LABELS.npy]
 *         [--logits FILE]
 *
 * prints one prediction per line, or with labels a summary (accuracy,
 * latency). --logits writes every image's output as raw little-endian f32.
 * Images are normalized as in training: (pixel / 255 - mean) / std for
 * bytes (IDX, or .npy uint8), (x - mean) / std for .npy float32, in f32.
 * .npy images are N x C x H x W (or N x H x W), labels N integers (uint8,
 * int32 or int64), little-endian and C-ordered as np.save writes them.
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

/* The data of an IDX file of unsigned bytes with `rank` dimensions. */
static const unsigned char *parse_idx(const char *path,
                                      const unsigned char *data, size_t size,
                                      int rank, uint32_t dims[3]) {
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

/* A .npy array as np.save writes it (format 1-3, little-endian, C order):
 * its element size and kind ('u', 'i' or 'f'), shape and data. */
struct npy {
  char kind;
  int element_size, rank;
  size_t shape[8], count;
  const unsigned char *data;
};

static int is_npy(const unsigned char *data, size_t size) {
  return size >= 10 && memcmp(data, "\x93NUMPY", 6) == 0;
}

static struct npy parse_npy(const char *path, const unsigned char *data,
                            size_t size) {
  struct npy array = {0};
  size_t length, start;
  if (data[6] == 1) {
    length = data[8] | (size_t)data[9] << 8;
    start = 10;
  } else {
    if (size < 12)
      die("truncated .npy header", path);
    length = data[8] | (size_t)data[9] << 8 | (size_t)data[10] << 16 |
             (size_t)data[11] << 24;
    start = 12;
  }
  if (length > size - start)
    die("truncated .npy header", path);
  /* The header is a Python dict literal, NUL-terminated here to parse. */
  char *header = malloc(length + 1);
  memcpy(header, data + start, length);
  header[length] = 0;
  const char *descr = strstr(header, "'descr':");
  const char *order = strstr(header, "'fortran_order':");
  const char *shape = strstr(header, "'shape':");
  if (!descr || !order || !shape)
    die("not a .npy header (descr, fortran_order and shape)", path);
  descr = strchr(descr + 8, '\'');
  if (!descr || (descr[1] != '<' && descr[1] != '|') ||
      !strchr("uif", descr[2]) || descr[3] < '1' || descr[3] > '8' ||
      descr[4] != '\'')
    die("holds an element type other than little-endian integers or "
        "floats",
        path);
  array.kind = descr[2];
  array.element_size = descr[3] - '0';
  if (strstr(order, "True") && strstr(order, "True") < shape)
    die("is in Fortran order; save a C-ordered array", path);
  const char *p = strchr(shape, '(');
  if (!p)
    die("has no shape tuple", path);
  array.count = 1;
  for (++p;;) {
    while (*p == ' ' || *p == ',')
      ++p;
    if (*p == ')')
      break;
    char *end;
    unsigned long long dim = strtoull(p, &end, 10);
    if (end == p || array.rank == 8)
      die("has a malformed shape", path);
    array.shape[array.rank++] = dim;
    if (__builtin_mul_overflow(array.count, (size_t)dim, &array.count))
      die("its header promises more bytes than memory can hold", path);
    p = end;
  }
  free(header);
  size_t bytes;
  if (__builtin_mul_overflow(array.count, (size_t)array.element_size, &bytes) ||
      bytes != size - start - length)
    die("truncated or oversized: its header promises another size", path);
  array.data = data + start + length;
  return array;
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
              "usage: %s IMAGES.idx[.gz]|.npy [LABELS.idx[.gz]|.npy] "
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
            "usage: %s IMAGES.idx[.gz]|.npy [LABELS.idx[.gz]|.npy] "
            "[--logits FILE]\n",
            argv[0]);
    return 1;
  }
  const size_t batch = QAT_MODEL_BATCH;
  const size_t per_image = QAT_MODEL_INPUT_ELEMENTS / QAT_MODEL_BATCH;
  const size_t classes = QAT_MODEL_CLASSES;
  /* The images: bytes (IDX, .npy uint8) or floats (.npy float32); each
   * file is read once (it may be a pipe). */
  unsigned char *image_owner, *label_owner = NULL;
  size_t image_bytes, count;
  const unsigned char *pixels = NULL;
  const float *values = NULL;
  image_owner = read_all(images_path, &image_bytes);
  if (is_npy(image_owner, image_bytes)) {
    struct npy images = parse_npy(images_path, image_owner, image_bytes);
    if (images.rank != 3 && images.rank != 4)
      die("must hold N x C x H x W (or N x H x W) images", images_path);
    if (images.kind == 'u' && images.element_size == 1)
      pixels = images.data;
    else if (images.kind == 'f' && images.element_size == 4)
      values = (const float *)images.data;
    else
      die("must hold uint8 or float32 images", images_path);
    count = images.shape[0];
    if (count && images.count / count != per_image)
      die("image size does not match the model's input", images_path);
  } else {
    uint32_t dims[3];
    pixels = parse_idx(images_path, image_owner, image_bytes, 3, dims);
    if ((size_t)dims[1] * dims[2] != per_image)
      die("image size does not match the model's input", images_path);
    count = dims[0];
  }
  /* The labels, widened to int64. */
  int64_t *labels = NULL;
  if (labels_path) {
    size_t label_bytes;
    label_owner = read_all(labels_path, &label_bytes);
    labels = malloc((count ? count : 1) * sizeof(int64_t));
    if (is_npy(label_owner, label_bytes)) {
      struct npy array = parse_npy(labels_path, label_owner, label_bytes);
      if (array.rank != 1 || array.count != count)
        die("must hold one label per image", labels_path);
      for (size_t i = 0; i < count; ++i) {
        const unsigned char *p = array.data + i * array.element_size;
        if (array.kind == 'u' && array.element_size == 1)
          labels[i] = p[0];
        else if (array.kind == 'i' && array.element_size == 4) {
          int32_t v;
          memcpy(&v, p, 4);
          labels[i] = v;
        } else if (array.kind == 'i' && array.element_size == 8)
          memcpy(&labels[i], p, 8);
        else
          die("must hold uint8, int32 or int64 labels", labels_path);
      }
    } else {
      uint32_t label_dims[3];
      const unsigned char *bytes =
          parse_idx(labels_path, label_owner, label_bytes, 1, label_dims);
      if (label_dims[0] != count)
        die("holds a different number of labels than there are images",
            labels_path);
      for (size_t i = 0; i < count; ++i)
        labels[i] = bytes[i];
    }
    for (size_t i = 0; i < count; ++i)
      if (labels[i] < 0 || (size_t)labels[i] >= classes) {
        fprintf(stderr,
                "error: %s: label %zu is %lld but the model has %zu classes\n",
                labels_path, i, (long long)labels[i], classes);
        return 1;
      }
  }

  float *input = calloc(QAT_MODEL_INPUT_ELEMENTS, sizeof(float));
  float *output = malloc(QAT_MODEL_OUTPUT_ELEMENTS * sizeof(float));
  float *logits = logits_path ? malloc(count * classes * sizeof(float)) : NULL;
  size_t *predictions = malloc((count ? count : 1) * sizeof(size_t));
  double seconds = 0;
  size_t batches = 0;
  for (size_t start = 0; start < count; start += batch) {
    size_t rows = count - start < batch ? count - start : batch;
    memset(input, 0, QAT_MODEL_INPUT_ELEMENTS * sizeof(float));
    for (size_t i = 0; i < rows * per_image; ++i) {
      float scaled = pixels ? (float)pixels[start * per_image + i] / 255.0f
                            : values[start * per_image + i];
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
      predictions[start + r] = best;
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
      printf("%zu\n", predictions[i]);
  } else {
    size_t correct = 0;
    for (size_t i = 0; i < count; ++i)
      correct += predictions[i] == (size_t)labels[i];
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
  free(labels);
  free(image_owner);
  free(label_owner);
  return 0;
}
