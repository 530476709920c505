#ifndef CLS_PYTHON_BINDING_BINDING_COMMON_H_
#define CLS_PYTHON_BINDING_BINDING_COMMON_H_

// Conversions shared by the _cls_core bindings: core errors to Python
// exceptions, numpy arrays to and from Eigen / std::vector. No logic of the
// bound classes lives here or in the binding files.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <Eigen/Dense>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"

namespace cls::python {

namespace py = pybind11;

// FailedPrecondition: the call is fine but the object's state refuses it
// (e.g. a rollout is already in progress). Python: _cls_core.StateError, a
// RuntimeError.
struct StateError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// InvalidArgument -> ValueError, NotFound -> KeyError, FailedPrecondition ->
// StateError, anything else -> RuntimeError; the core's message is kept.
[[noreturn]] void ThrowError(const Error& error);

inline void Check(const Status& status) {
  if (!status) ThrowError(status.error());
}
template <typename T>
T Unwrap(Result<T> result) {
  if (!result) ThrowError(result.error());
  return std::move(*result);
}

// A 2-D numeric array (any dtype numpy can cast to float64, or nested
// lists) as float32 rows x columns; ValueError naming `what` otherwise.
Eigen::MatrixXf ToMatrix(const py::object& value, const char* what);
// A 1-D numeric array as float32.
Eigen::VectorXf ToVector(const py::object& value, const char* what);
std::vector<float> ToFloatVector(const py::object& value, const char* what);

py::array_t<double> ToNumpy(const Eigen::VectorXf& v);
py::array_t<double> ToNumpy(std::span<const float> v);

// Python's current time as Unix seconds (the clock alerts are stamped
// with).
int64_t NowSeconds();

void BindOnlineLearning(py::module_& m);
void BindDrift(py::module_& m);
void BindVersions(py::module_& m);

}  // namespace cls::python

#endif  // CLS_PYTHON_BINDING_BINDING_COMMON_H_
