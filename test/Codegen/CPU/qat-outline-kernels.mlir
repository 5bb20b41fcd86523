// RUN: qat-opt --qat-outline-kernels %s | FileCheck %s
// RUN: qat-opt --qat-outline-kernels="optnone-above=3" %s | FileCheck %s --check-prefix=GLUE
// RUN: qat-opt --qat-outline-kernels="optnone-above=3" --qat-deduplicate-kernels %s | FileCheck %s --check-prefix=DEDUP
// Large glue: 1100 linalg.copy ops become 1100 calls: above the default
// threshold (4096 ops) the glue stays optimized, above 1000 it does not.
// RUN: %python -c "print('func.func @big(%%a: memref<4xf32>, %%b: memref<4xf32>) {'); [print('  linalg.copy ins(%%a : memref<4xf32>) outs(%%b : memref<4xf32>)') for _ in range(1100)]; print('  return\\n}')" > %t.mlir
// RUN: qat-opt --qat-outline-kernels %t.mlir | FileCheck %s --check-prefix=BIG-DEFAULT
// RUN: qat-opt --qat-outline-kernels="optnone-above=1000" %t.mlir | FileCheck %s --check-prefix=BIG

// Each linalg op on buffers becomes a noinline private function of its
// own; its operands and the values its body captures are the arguments.

// CHECK-LABEL: func.func private @step_kernel_0(
// CHECK-SAME:    %[[X:.*]]: memref<8xf32>, %[[Y:.*]]: memref<8xf32>, %[[S:.*]]: f32)
// CHECK-SAME:    attributes {passthrough = ["noinline"]}
// CHECK:         linalg.generic
// CHECK:           arith.mulf %{{.*}}, %[[S]] : f32
// CHECK:         return
// CHECK-LABEL: func.func private @step_kernel_1(
// CHECK-SAME:    attributes {passthrough = ["noinline"]}
// CHECK-LABEL: func.func @step(
// CHECK-SAME:    attributes {passthrough = ["inlinehint"]}
// CHECK:         %[[SCALE:.*]] = arith.constant 2.0
// CHECK:         call @step_kernel_0(%{{.*}}, %{{.*}}, %[[SCALE]])
// CHECK:         call @step_kernel_1(
// CHECK:         return

// Glue with more ops than optnone-above (here: the constant, two calls and
// the return) is compiled unoptimized; the kernels are not.
// GLUE:       func.func private @step_kernel_0({{.*}} attributes {passthrough = ["noinline"]}
// GLUE:       func.func @step({{.*}} attributes {passthrough = ["inlinehint", "noinline", "optnone"]}

// BIG-DEFAULT-LABEL: func.func @big(
// BIG-DEFAULT-SAME:    %arg1: memref<4xf32>) {
// BIG-LABEL: func.func @big(
// BIG-SAME:    attributes {passthrough = ["noinline", "optnone"]}
// BIG-COUNT-1100: call @big_kernel_
// BIG-NEXT:    return

// The two kernels are the same op on the same types: one remains.
// DEDUP-LABEL: func.func private @step_kernel_0(
// DEDUP-NOT:   func.func private @step_kernel_1(
// DEDUP:         call @step_kernel_0(
// DEDUP-NEXT:    call @step_kernel_0(

func.func @step(%x: memref<8xf32>, %y: memref<8xf32>, %z: memref<8xf32>) attributes {passthrough = ["inlinehint"]} {
  %scale = arith.constant 2.0 : f32
  linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>],
                  iterator_types = ["parallel"]}
      ins(%x : memref<8xf32>) outs(%y : memref<8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.mulf %in, %scale : f32
    linalg.yield %m : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>],
                  iterator_types = ["parallel"]}
      ins(%y : memref<8xf32>) outs(%z : memref<8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.mulf %in, %scale : f32
    linalg.yield %m : f32
  }
  return
}

// A loop on one thread (a microkernel of --qat-lower-mmt4d or
// --qat-lower-direct-conv) is a kernel too, so that glue compiled
// unoptimized never holds a hot loop.
// CHECK-LABEL: func.func private @loop_kernel_0(
// CHECK-SAME:    attributes {passthrough = ["noinline"]}
// CHECK:         scf.for
// CHECK:           memref.store
// CHECK-LABEL: func.func @loop(
// CHECK-NOT:     scf.for
// CHECK:         call @loop_kernel_0(
func.func @loop(%a: memref<8xf32>, %v: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  scf.for %i = %c0 to %c8 step %c1 {
    memref.store %v, %a[%i] : memref<8xf32>
  }
  return
}
