// mp::train — a trainable parameter: the contract between the autodiff graph
// (train/grad_graph.h), which fills `grad`, and the optimizers (train/optimizer.h), which
// read `grad` and update `value` in place.
#ifndef MP_WORKERS_ENGINE_TRAIN_PARAMETER_H_
#define MP_WORKERS_ENGINE_TRAIN_PARAMETER_H_

#include <string>

#include "workers/engine/tensor/tensor.h"

namespace mp::train {

struct Parameter {
  // The initializer's name in the model ("conv1.weight").
  std::string name;
  // float32; owned by the graph, updated in place by an optimizer. Never reallocated, so
  // pointers into it stay valid for the graph's lifetime.
  tensor::Tensor value;
  // float32, same shape as `value`; the gradient of the loss w.r.t. `value`, summed over
  // the batch (the loss itself averages, so this is the gradient of the mean).
  tensor::Tensor grad;
  // Decoupled weight decay / L2 apply only where true (weights: yes; biases and
  // normalisation scales/shifts: no, as PyTorch recipes usually configure it).
  bool decay = true;
};

}  // namespace mp::train

#endif  // MP_WORKERS_ENGINE_TRAIN_PARAMETER_H_
