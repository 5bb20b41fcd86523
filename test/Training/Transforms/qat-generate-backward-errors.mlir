// RUN: qat-opt --qat-generate-backward -split-input-file -verify-diagnostics %s

// expected-error @+1 {{no function 'forward' with a body to differentiate}}
module {
  func.func @other(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
    return %x : tensor<2x4xf32>
  }
}

// -----

// expected-error @+1 {{has no argument marked qat.trainable to differentiate by}}
func.func @forward(%x: tensor<2x4xf32> {qat.input = "x"}) -> tensor<2x4xf32> {
  return %x : tensor<2x4xf32>
}

// -----

// expected-error @+1 {{result #0 must be static f32 logits of shape N x C, or a 0-d f32 loss, got 'tensor<8xf32>'}}
func.func @forward(%w: tensor<8xf32> {qat.trainable}) -> tensor<8xf32> {
  return %w : tensor<8xf32>
}

// -----

func.func @forward(%w: tensor<2x4xf32> {qat.state = "w", qat.trainable}) -> tensor<2x4xf32> {
  // expected-error @+1 {{'tosa.floor' op has no gradient rule (DifferentiableOpInterface), but a trainable parameter reaches the loss through it}}
  %0 = tosa.floor %w : (tensor<2x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// expected-error @+1 {{the module already has a symbol named 'loss_and_gradients'}}
module {
  func.func @forward(%w: tensor<2x4xf32> {qat.trainable}) -> tensor<2x4xf32> {
    return %w : tensor<2x4xf32>
  }
  func.func private @loss_and_gradients()
}
