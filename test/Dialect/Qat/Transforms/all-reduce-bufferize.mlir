// One-Shot Bufferize makes qat.all_reduce a call of the runtime function
// on a fresh contiguous buffer (the input copied in), which becomes the
// result; the declaration is added once.
// RUN: qat-opt "--one-shot-bufferize=bufferize-function-boundaries" %s | FileCheck %s --check-prefix=BUF
// RUN: qat-opt --qat-lower-to-llvm %s | FileCheck %s --check-prefix=LLVM

// The input may be a strided view: it is copied into a contiguous buffer.
// BUF:         func.func private @qat_all_reduce_f32(memref<*xf32>, i32)
// BUF-NOT:     func.func private @qat_all_reduce_f32
// BUF-LABEL:   func.func @sum(
// BUF-SAME:      %[[IN:.*]]: memref<4x3xf32, strided<[?, ?], offset: ?>>
// BUF:           %[[BUFFER:.*]] = memref.alloc() {{.*}}: memref<4x3xf32>
// BUF:           memref.copy %[[IN]], %[[BUFFER]]
// BUF:           %[[UNRANKED:.*]] = memref.cast %[[BUFFER]] : memref<4x3xf32> to memref<*xf32>
// BUF:           %[[SUM:.*]] = arith.constant 0 : i32
// BUF:           call @qat_all_reduce_f32(%[[UNRANKED]], %[[SUM]]) : (memref<*xf32>, i32) -> ()
// BUF:           %[[MAX:.*]] = memref.alloc() {{.*}}: memref<4x3xf32>
// BUF:           memref.copy %[[BUFFER]], %[[MAX]]
// BUF:           %[[KIND:.*]] = arith.constant 2 : i32
// BUF:           call @qat_all_reduce_f32(%{{.*}}, %[[KIND]]) : (memref<*xf32>, i32) -> ()
// BUF:           return %[[MAX]]

// LLVM: llvm.func @qat_all_reduce_f32(i64, !llvm.ptr, i32)
// LLVM-COUNT-2: llvm.call @qat_all_reduce_f32(%{{.*}}, %{{.*}}, %{{.*}}) : (i64, !llvm.ptr, i32) -> ()
func.func @sum(%x: tensor<4x3xf32>) -> tensor<4x3xf32> {
  %0 = qat.all_reduce sum %x : tensor<4x3xf32>
  %1 = qat.all_reduce max %0 : tensor<4x3xf32>
  return %1 : tensor<4x3xf32>
}
