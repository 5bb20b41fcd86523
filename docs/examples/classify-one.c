/* Classify one Fashion-MNIST test image with a model compiled by
 * qat-compile --emit=obj, through the C interface of its header:
 *
 *   qat-compile trained.mlir --emit=obj -o model.o
 *   qat-compile trained.mlir --emit=header -o model.h
 *   clang-22 -O2 classify-one.c model.o -o classify-one
 *   ./classify-one t10k-images-idx3-ubyte 0
 */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s IMAGES.idx INDEX\n", argv[0]);
    return 1;
  }
  FILE *file = fopen(argv[1], "rb");
  long index = atol(argv[2]);
  unsigned char pixels[28 * 28];
  /* An IDX image file: a 16-byte header, then 28x28 bytes per image. */
  if (!file || fseek(file, 16 + index * 784, SEEK_SET) != 0 ||
      fread(pixels, 1, sizeof pixels, file) != sizeof pixels) {
    fprintf(stderr, "cannot read image %ld of %s\n", index, argv[1]);
    return 1;
  }
  fclose(file);

  /* The model takes a whole batch; the image goes in row 0, the other rows
   * stay zero. Normalize as in training. */
  static float input[MODEL_INPUT_ELEMENTS], output[MODEL_OUTPUT_ELEMENTS];
  for (int i = 0; i < 28 * 28; ++i)
    input[i] = ((float)pixels[i] / 255.0f - MODEL_INPUT_MEAN) / MODEL_INPUT_STD;
  /* -1: this CPU lacks a feature the model was compiled for. */
  if (model_run(input, output) != 0) {
    fprintf(stderr, "this CPU lacks '%s'; compile the model for %s\n",
            model_missing_cpu_feature(), model_best_target());
    return 3;
  }

  int best = 0;
  for (int c = 1; c < MODEL_CLASSES; ++c)
    if (output[c] > output[best])
      best = c;
  /* Logits are dequantized output codes: (code - MODEL_OUTPUT_ZERO_POINT)
   * * MODEL_OUTPUT_SCALE. */
  printf("image %ld: class %d (logit %.4f)\n", index, best, output[best]);
  return 0;
}
