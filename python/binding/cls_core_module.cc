// _cls_core: the project's core/ C++ (online learning, drift detection,
// version rollout; the code the site agent runs) for Python, in process.
// python/continuous_learning_system/local.py gives it the guide's names.

#include <chrono>
#include <string>

#include "python/binding/binding_common.h"

namespace cls::python {

void ThrowError(const Error& error) {
  switch (error.code) {
    case ErrorCode::kInvalidArgument:
      throw py::value_error(error.message);
    case ErrorCode::kNotFound:
      throw py::key_error(error.message);
    case ErrorCode::kFailedPrecondition:
      throw StateError(error.message);
    default:
      throw std::runtime_error(error.ToString());
  }
}

namespace {

using DoubleArray =
    py::array_t<double, py::array::c_style | py::array::forcecast>;

DoubleArray ToDoubleArray(const py::object& value, const char* what) {
  DoubleArray a = DoubleArray::ensure(value);
  if (!a) {
    PyErr_Clear();
    throw py::type_error(std::string(what) +
                         " must be numeric (an array of "
                         "numbers)");
  }
  return a;
}

}  // namespace

Eigen::MatrixXf ToMatrix(const py::object& value, const char* what) {
  DoubleArray a = ToDoubleArray(value, what);
  if (a.ndim() != 2) {
    throw py::value_error(
        std::string(what) +
        " must be a 2-D array (n_samples x n_features), got " +
        std::to_string(a.ndim()) + "-D");
  }
  auto r = a.unchecked<2>();
  Eigen::MatrixXf m(r.shape(0), r.shape(1));
  for (py::ssize_t i = 0; i < r.shape(0); ++i) {
    for (py::ssize_t j = 0; j < r.shape(1); ++j) {
      m(i, j) = static_cast<float>(r(i, j));
    }
  }
  return m;
}

Eigen::VectorXf ToVector(const py::object& value, const char* what) {
  DoubleArray a = ToDoubleArray(value, what);
  if (a.ndim() != 1) {
    throw py::value_error(std::string(what) + " must be a 1-D array, got " +
                          std::to_string(a.ndim()) + "-D");
  }
  auto r = a.unchecked<1>();
  Eigen::VectorXf v(r.shape(0));
  for (py::ssize_t i = 0; i < r.shape(0); ++i) {
    v(i) = static_cast<float>(r(i));
  }
  return v;
}

std::vector<float> ToFloatVector(const py::object& value, const char* what) {
  Eigen::VectorXf v = ToVector(value, what);
  return std::vector<float>(v.data(), v.data() + v.size());
}

py::array_t<double> ToNumpy(std::span<const float> v) {
  py::array_t<double> out(static_cast<py::ssize_t>(v.size()));
  auto w = out.mutable_unchecked<1>();
  for (size_t i = 0; i < v.size(); ++i) w(i) = v[i];
  return out;
}

py::array_t<double> ToNumpy(const Eigen::VectorXf& v) {
  return ToNumpy(std::span<const float>(v.data(), v.size()));
}

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace cls::python

PYBIND11_MODULE(_cls_core, m) {
  namespace py = pybind11;
  m.doc() =
      "The project's core/ C++ (online learning, drift detection, version "
      "rollout) bound for in-process use; see docs/python-binding.md.";
  py::register_exception<cls::python::StateError>(m, "StateError",
                                                  PyExc_RuntimeError);
  cls::python::BindOnlineLearning(m);
  cls::python::BindDrift(m);
  cls::python::BindVersions(m);
}
