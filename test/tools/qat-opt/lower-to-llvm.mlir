// The qat-lower-to-llvm pipeline leaves only the LLVM dialect; results become
// trailing out-parameters and the C interface wrapper takes descriptors. Each
// linalg op becomes a noinline kernel function that forward calls; fake
// quantization's elementwise ops are fused into one.
// RUN: qat-opt %s --qat-lower-to-llvm | FileCheck %s

// CHECK-LABEL: llvm.func @forward_kernel_0(
// CHECK-SAME:    passthrough = ["noinline"]
// CHECK:         llvm.intr.roundeven
// CHECK-NOT:   llvm.func @forward_kernel_1(
// CHECK-LABEL: llvm.func @forward(
// CHECK:         llvm.call @forward_kernel_0(
// CHECK-LABEL: llvm.func @_mlir_ciface_forward(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr)
// CHECK-NOT:   qat.
// CHECK-NOT:   linalg.
func.func @forward(%x: tensor<8xf32>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<8xf32>
    attributes {llvm.emit_c_interface} {
  %0 = qat.fake_quant %x, %s, %z to ui8[0 : 255] : tensor<8xf32>, tensor<f32>, tensor<i32>
  return %0 : tensor<8xf32>
}
