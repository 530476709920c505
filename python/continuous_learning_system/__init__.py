"""Client of the clinical federated-learning consortium (docs/python.md).

Federation (alias ContinuousLearningSystem) speaks to the coordinator's admin
API, SiteClient to a site agent's prediction endpoint, both over mutual TLS
with the standard library only. OnlineLearningSystem, ModelDriftDetector and
ModelVersionManager run the C++ core in-process when the optional binding
(_cls_core) is built; without it those names are absent.
"""

from .enums import DeploymentStrategy, DriftType, ModelType
from .errors import (ClsError, Conflict, InternalError, InvalidArgument, MethodNotAllowed,
                     NotFound, PayloadTooLarge, PermissionDenied, ResourceExhausted,
                     Unauthenticated, Unavailable, Unimplemented, WaitTimeout)
from .federation import ContinuousLearningSystem, FederatedLearningCoordinator, Federation
from .results import (AuditVerification, Deployment, DeploymentStatus, DriftStatistics,
                      DriftStatus, FederatedRound, FederatedSite, FederationStatistics,
                      ModelVersion, Prediction, PrivacyStatus, RoundsRequested, SystemStatus,
                      VersionComparison)
from .site import SiteClient

__version__ = "0.1.0"

__all__ = [
    "AuditVerification", "ClsError", "Conflict", "ContinuousLearningSystem", "Deployment",
    "DeploymentStatus", "DeploymentStrategy", "DriftStatistics", "DriftStatus", "DriftType",
    "FederatedLearningCoordinator", "FederatedRound", "FederatedSite", "Federation",
    "FederationStatistics", "InternalError",
    "InvalidArgument", "MethodNotAllowed", "ModelType", "ModelVersion", "NotFound",
    "PayloadTooLarge", "PermissionDenied", "Prediction", "PrivacyStatus", "ResourceExhausted",
    "RoundsRequested", "SiteClient", "SystemStatus", "Unauthenticated", "Unavailable",
    "Unimplemented", "VersionComparison", "WaitTimeout",
]

# The in-process core (the binding helper's local.py over _cls_core): only
# when the extension module is built and importable.
try:
    from .local import ModelDriftDetector, ModelVersionManager, OnlineLearningSystem
except ImportError:
    pass
else:
    __all__ += ["ModelDriftDetector", "ModelVersionManager", "OnlineLearningSystem"]
