# Wire protocol between the coordinator and site agents (one Envelope per
# frame). See docs/protocol.md for the stages. Vectors travel as Data blobs of
# little-endian 32-bit words: Cap'n Proto copies them once, with no per-element
# pointer traversal.
@0xbf1eb9ee1939e675;

# Generated C++ types live in cls::protocol::wire, apart from the plain structs
# of the same names in messages.h. (An annotation only: the wire is unchanged.)
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("cls::protocol::wire");

struct Envelope {
  protocolVersion @0 :UInt16;
  body :union {
    hello @1 :Hello;
    welcome @2 :Welcome;
    rejected @3 :Rejected;
    announce @4 :RoundAnnounce;
    advertiseKeys @5 :AdvertiseKeys;
    keyDirectory @6 :KeyDirectory;
    shareKeys @7 :ShareKeys;
    shareDelivery @8 :ShareDelivery;
    maskedInput @9 :MaskedInput;
    unmaskRequest @10 :UnmaskRequest;
    unmaskResponse @11 :UnmaskResponse;
    roundResult @12 :RoundResult;
    roundAborted @13 :RoundAborted;
    evaluationReport @14 :EvaluationReport;
    deploymentUpdate @15 :DeploymentUpdate;
    deploymentAck @16 :DeploymentAck;
    driftReport @17 :DriftReport;
    auditCheckpoint @18 :AuditCheckpoint;
    survivorSet @19 :SurvivorSet;
    survivorSetSignature @20 :SurvivorSetSignature;
  }
}

# site -> coordinator, first message after the TLS handshake.
struct Hello {
  siteId @0 :Text;
  siteName @1 :Text;
  location @2 :Text;
  numSamples @3 :UInt64;
  agentVersion @4 :Text;
  modelVersion @5 :Text;   # the global model version the site holds, or ""
  recordPrivacy @6 :RecordPrivacy;  # issue 14: the site's DP-SGD ledger
}

struct Welcome {
  siteId @0 :Text;
  approved @1 :Bool;
}

# coordinator -> site; the connection is closed after it.
struct Rejected {
  reason @0 :Text;
}

struct TrainingConfig {
  epochs @0 :UInt32;
  batchSize @1 :UInt32;
  learningRate @2 :Float64;
  l2 @3 :Float64;
  seed @4 :UInt64;
  proximalMu @5 :Float64;  # FedProx: (mu/2)|w - w_global|^2; 0 = FedAvg
}

struct Neighbour {
  siteId @0 :Text;
  index @1 :UInt32;        # Shamir evaluation point and position in the graph
}

# Stage 0, coordinator -> each participant.
struct RoundAnnounce {
  roundId @0 :UInt64;
  modelVersion @1 :Text;
  modelHash @2 :Text;        # SHA-256 hex of the parameter bytes
  modelKind @3 :Text;        # "logistic_regression" | "softmax_regression" | "mlp" | "benchmark_vector" | "feature_statistics"
  parameters @4 :Data;       # float32 little-endian
  training @5 :TrainingConfig;
  clip @6 :Float64;          # L2 bound C of the delta, applied before weighting
  valueBits @7 :UInt8;
  ringBits @8 :UInt8;
  weight @9 :Float64;        # this site's FedAvg weight
  selfIndex @10 :UInt32;
  neighbours @11 :List(Neighbour);   # including the site itself
  threshold @12 :UInt32;
  stageTimeoutMs @13 :UInt32;
  # Federation-wide feature statistics (core/feature_statistics.h layout,
  # float64 little-endian): the sums the secure statistics round produced.
  # Empty: none yet, each site standardises with its own.
  featureStatistics @14 :Data;
  # Distributed differential privacy: the variance of the Skellam noise this
  # site adds to each quantized coordinate before masking (quantized units
  # squared). 0: no noise (privacy off or central).
  noiseVariance @15 :Float64;
  # core/model_spec.h ModelSpec text of the model being trained, e.g.
  # "kind=mlp;features=13;classes=2;hidden=32;activation=relu". Empty (an
  # older coordinator): the site's default for modelKind.
  modelSpec @16 :Text;
}

# Stage 1, site -> coordinator.
struct AdvertiseKeys {
  roundId @0 :UInt64;
  cipherPublicKey @1 :Data;  # X25519, encrypts shares
  maskPublicKey @2 :Data;    # X25519, derives pairwise masks
  selfMaskCommitment @3 :Data;  # SHA-256 of the self-mask seed
  # ECDSA (the site certificate's key) over protocol/secagg.h
  # AdvertisePayload: the coordinator id, round id, the site's index and the
  # three values above. Neighbours verify it before using a key.
  signature @4 :Data;
}

# A neighbour's advertised keys as the coordinator relays them, with what the
# receiver needs to check them without trusting the coordinator.
struct KeyEntry {
  index @0 :UInt32;
  cipherPublicKey @1 :Data;
  maskPublicKey @2 :Data;
  selfMaskCommitment @3 :Data;
  certificate @4 :Data;      # the neighbour's site certificate, DER
  signature @5 :Data;        # its AdvertiseKeys.signature
}

# coordinator -> site: the keys of its neighbours that advertised.
struct KeyDirectory {
  roundId @0 :UInt64;
  keys @1 :List(KeyEntry);
}

struct EncryptedShare {
  fromIndex @0 :UInt32;
  toIndex @1 :UInt32;
  ciphertext @2 :Data;       # AES-256-GCM, nonce || ct || tag
}

# Stage 2, site -> coordinator: one encrypted share pair per neighbour.
struct ShareKeys {
  roundId @0 :UInt64;
  shares @1 :List(EncryptedShare);
}

# coordinator -> site: the shares addressed to it.
struct ShareDelivery {
  roundId @0 :UInt64;
  shares @1 :List(EncryptedShare);
}

# Issue 14: the site's own record-level (patient-level) DP-SGD accounting
# ([privacy] dp_sgd in the site config): epsilon spent at delta over all its
# local trainings, its budget, and trainings refused for it.
struct RecordPrivacy {
  dpSgd @0 :Bool;
  epsilon @1 :Float64;
  delta @2 :Float64;
  targetEpsilon @3 :Float64;
  refusals @4 :UInt64;
}

struct ValidationMetrics {
  count @0 :UInt64;
  correct @1 :UInt64;
  lossSum @2 :Float64;
  trainSamples @3 :UInt64;
  # Multi-class models (K > 2) only, K entries each (core/metrics.h
  # ClassCounts): held-out rows of class c predicted c, rows of class c, rows
  # predicted c. Empty for binary models.
  classCorrect @4 :List(UInt64);
  classSupport @5 :List(UInt64);
  classPredicted @6 :List(UInt64);
}

# Stage 3, site -> coordinator.
struct MaskedInput {
  roundId @0 :UInt64;
  masked @1 :Data;           # `count` values of `bits` bits each, bit-packed
                             # little-endian (docs/protocol.md "Frames")
  metrics @2 :ValidationMetrics;
  bits @3 :UInt8;            # the round's ringBits, 1..32 (0: an older
                             # sender's u32 words, refused)
  count @4 :UInt32;          # number of values in `masked`
  recordPrivacy @5 :RecordPrivacy;  # issue 14: after this round's charge
}

# Consistency check (Bonawitz et al. 2017, active adversary): coordinator ->
# each live survivor, the whole set of sites whose masked input is in the sum
# (sorted indices). Each signs it; no share is revealed before enough
# neighbours have signed the same set.
struct SurvivorSet {
  roundId @0 :UInt64;
  survivors @1 :List(UInt32);
}

# site -> coordinator: ECDSA over protocol/secagg.h SurvivorSetPayload.
struct SurvivorSetSignature {
  roundId @0 :UInt64;
  signature @1 :Data;
}

struct SurvivorSignature {
  index @0 :UInt32;
  signature @1 :Data;
}

# coordinator -> survivors that signed: which neighbours survived or dropped,
# and the neighbours' signatures over the survivor set.
struct UnmaskRequest {
  roundId @0 :UInt64;
  survivors @1 :List(UInt32);
  dropped @2 :List(UInt32);
  signatures @3 :List(SurvivorSignature);
}

struct SecretShare {
  ownerIndex @0 :UInt32;
  x @1 :UInt32;
  y @2 :List(UInt64);
  # The owner's ECDSA over protocol/secagg.h SharePayload, so the coordinator
  # can tell a share the owner dealt from one a holder made up.
  signature @3 :Data;
}

# Stage 4, site -> coordinator.
struct UnmaskResponse {
  roundId @0 :UInt64;
  selfMaskShares @1 :List(SecretShare);  # of survivors' self-mask seeds
  maskKeyShares @2 :List(SecretShare);   # of dropped sites' mask keys
}

struct RoundResult {
  roundId @0 :UInt64;
  modelVersion @1 :Text;
  modelHash @2 :Text;
  parameters @3 :Data;
  participants @4 :UInt32;
  featureStatistics @5 :Data;  # as in RoundAnnounce
}

struct RoundAborted {
  roundId @0 :UInt64;
  reason @1 :Text;
}

# site -> coordinator after RoundResult: the new model on the site's held-out
# split. Aggregate counts only.
struct EvaluationReport {
  roundId @0 :UInt64;
  modelVersion @1 :Text;
  metrics @2 :ValidationMetrics;
  scores @3 :ScoreCounts;
}

# Binary classifiers only (empty otherwise): the confusion counts at the
# 0.5 threshold and histograms of the predicted probability of the positive
# class, one per true class, in equal-width bins over [0, 1] (bin i holds
# p in [i/B, (i+1)/B), the last bin includes 1). The coordinator sums them
# over the sites, so precision, recall, F1 and a binned ROC AUC are computed
# for the federation without any site sending a score.
struct ScoreCounts {
  truePositives @0 :UInt64;
  falsePositives @1 :UInt64;
  trueNegatives @2 :UInt64;
  falseNegatives @3 :UInt64;
  positiveHistogram @4 :List(UInt64);
  negativeHistogram @5 :List(UInt64);
}

# A model version a site may serve.
struct ServedModel {
  versionId @0 :Text;
  modelHash @1 :Text;        # SHA-256 hex of the parameter bytes
  modelKind @2 :Text;        # "logistic_regression" | "softmax_regression" | "mlp"
  parameters @3 :Data;       # float32 little-endian
  modelSpec @4 :Text;        # as RoundAnnounce.modelSpec; "" = site default
}

# coordinator -> site, whenever a deployment changes and again after a site
# (re)connects, so a site that was offline catches up. The whole deployment
# each time (not a delta): the latest one received wins.
struct DeploymentUpdate {
  deploymentId @0 :Text;     # unique per change; echoed in the ack
  strategy @1 :Text;         # "immediate" | "gradual_rollout" | "ab_testing" | "shadow_mode"
  current @2 :ServedModel;   # the stable version
  candidate @3 :ServedModel; # versionId "" = no rollout in progress
  rolloutPercent @4 :Float64;  # candidate's share of requests, [0, 100]
  salt @5 :Text;             # routing salt of this rollout
  # Standardisation the versions were trained with (core/feature_statistics.h
  # flattened sums, float64 little-endian); empty = the site's current one.
  featureStatistics @6 :Data;
  # The coordinator's [drift] settings for every site's DriftMonitor
  # (docs/drift.md); 0 = the site's own defaults (an older coordinator).
  driftPerformanceThreshold @7 :Float64;
  driftWindowSize @8 :UInt32;
  # Each version's baseline accuracy (a number, or its validation accuracy);
  # < 0 = none: the monitor measures against the accuracy observed so far.
  currentBaseline @9 :Float64 = -1;
  candidateBaseline @10 :Float64 = -1;
}

# site -> coordinator: the deployment was installed (or refused, with why).
struct DeploymentAck {
  deploymentId @0 :Text;
  accepted @1 :Bool;
  currentVersion @2 :Text;
  candidateVersion @3 :Text;
  reason @4 :Text;           # why it was refused; "" when accepted
}

struct DriftAlertNote {
  versionId @0 :Text;
  driftType @1 :Text;        # "performance_drift", "concept_drift", ...
  severity @2 :Float64;      # [0, 1]
  detector @3 :Text;
  timestampS @4 :Int64;
}

# site -> coordinator, periodically: counts and statistics per version
# served, never records (no request keys, features or confidences).
struct DriftReport {
  reportedAtS @0 :Int64;
  summaries @1 :List(Text);  # core/drift SerializeDriftSummary JSON, one per version
  alerts @2 :List(DriftAlertNote);  # raised since the previous report
}

# coordinator -> site: the latest signed head of the coordinator's audit log
# (docs/audit.md), sent when made and on every connection. Sites keep the
# newest, so a rewrite of the coordinator's whole database is detected
# against a copy it cannot reach.
struct AuditCheckpoint {
  checkpointJson @0 :Text;  # audit/audit_chain.h CheckpointToJson
}
