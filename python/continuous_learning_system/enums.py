"""Enumerations of the original user guide (its names and values are the
specification; the C++ coordinator speaks the same strings)."""

from enum import Enum


class ModelType(Enum):
    DIAGNOSIS_PREDICTOR = "diagnosis_predictor"
    READMISSION_RISK = "readmission_risk"
    MEDICATION_RECOMMENDER = "medication_recommender"
    CLINICAL_NLP = "clinical_nlp"
    IMAGING_CLASSIFIER = "imaging_classifier"


class DeploymentStrategy(Enum):
    IMMEDIATE = "immediate"
    GRADUAL_ROLLOUT = "gradual_rollout"
    AB_TESTING = "ab_testing"
    SHADOW_MODE = "shadow_mode"


class DriftType(Enum):
    CONCEPT_DRIFT = "concept_drift"
    DATA_DRIFT = "data_drift"
    PERFORMANCE_DRIFT = "performance_drift"
