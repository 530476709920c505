#ifndef CLS_CORE_DRIFT_DETECTOR_SIGNAL_H_
#define CLS_CORE_DRIFT_DETECTOR_SIGNAL_H_

namespace cls::drift {

// What a streaming detector says after one observation. kWarning is only
// reported by DDM and EDDM (their "warning zone"); no alert is raised on it.
enum class DetectorSignal { kNone, kWarning, kDrift };

}  // namespace cls::drift

#endif  // CLS_CORE_DRIFT_DETECTOR_SIGNAL_H_
