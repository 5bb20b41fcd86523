// RUN: qat-opt --qat-strided-copies-to-linalg %s | FileCheck %s

// A copy into the interior of a padded buffer (a strided view) becomes
// linalg.copy, so no call to memrefCopy is generated; a copy between
// contiguous buffers stays a memref.copy (llvm.memcpy).
// CHECK-LABEL: func @copies
// CHECK:         %[[VIEW:.*]] = memref.subview
// CHECK:         linalg.copy ins(%{{.*}} : memref<2x4xf32>) outs(%[[VIEW]] : memref<2x4xf32, strided<[6, 1], offset: 7>>)
// CHECK:         memref.copy %{{.*}}, %{{.*}} : memref<2x4xf32> to memref<2x4xf32>
// CHECK-NOT:     memref.copy
func.func @copies(%src: memref<2x4xf32>, %padded: memref<4x6xf32>, %dst: memref<2x4xf32>) {
  %view = memref.subview %padded[1, 1] [2, 4] [1, 1] : memref<4x6xf32> to memref<2x4xf32, strided<[6, 1], offset: 7>>
  memref.copy %src, %view : memref<2x4xf32> to memref<2x4xf32, strided<[6, 1], offset: 7>>
  memref.copy %src, %dst : memref<2x4xf32> to memref<2x4xf32>
  return
}
