#pragma once

// The admission chain around one model: a ChatModel decorator that, for every call, serves a
// cached response (when `cache` is on), passes the circuit breaker, waits for the rate limits
// (RPM/TPM buckets and a provider's 429 hold), calls the model, feeds what came back into the
// shared state, moves the call along the fallback chain when the breaker is open or the failure
// type is in `fallback_on`, and marks a transient failure no_retry when the retry budget is
// spent. It never retries: the runtime's decider is the one retry layer. Semantics, keys and
// defaults: docs/admission.md.

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.hpp"
#include "core/workflow.hpp"
#include "providers/admission/admission_config.hpp"
#include "providers/admission/hub.hpp"
#include "providers/chat_model.hpp"

namespace baton::providers::admission {

// Which shared entries a model uses.
struct AdmissionIdentity {
  std::string provider;
  std::string endpoint;         // base URL; "" for the provider's default
  std::string model;            // provider's model id; a fallback sends its own id
  std::string key_fingerprint;  // KeyFingerprint(api key), "" when there is no key
};

// Safe to call concurrently from any strand, like every ChatModel. Every wait is an Asio timer
// or channel on the caller's executor and ends with kCancelled when the awaiting coroutine is
// cancelled; no thread blocks.
class AdmittedModel final : public ChatModel {
 public:
  // `name` is the `models:` entry (used in notes and messages). `hub` is shared by every
  // admitted model of the process.
  AdmittedModel(std::string name, std::unique_ptr<ChatModel> inner, AdmissionIdentity identity,
                AdmissionConfig config, std::shared_ptr<AdmissionHub> hub);

  // Resolves config().fallback through `lookup` (model name -> admitted model, null when
  // unknown). Setup only, before the first call. The models found are not owned and must
  // outlive this one; their own fallbacks are not followed (the chain is this model's list).
  // Fails with kNotFound naming the unknown model, kInvalidArgument for a self-reference.
  Status LinkFallbacks(const std::function<AdmittedModel*(std::string_view name)>& lookup);

  // Success: the response of whoever answered (`model`/`provider` say who), with `notes` for
  // every fallback and wait ("fallback from smart to cheap: circuit open"). Failure: the last
  // model's Status with its type and retry hints (retry_after_ms passed through, raised to a
  // 429 hold still in force; no_retry when the retry budget is spent).
  boost::asio::awaitable<Result<ChatResponse>> Complete(ChatRequest request) override;
  std::string_view provider() const override { return inner_->provider(); }
  // This model's own breaker (not its fallbacks').
  std::string CircuitState() const override;

  const std::string& name() const { return name_; }
  const AdmissionIdentity& identity() const { return identity_; }
  const AdmissionConfig& config() const { return config_; }
  ChatModel& inner() { return *inner_; }

 private:
  struct Outcome;

  // One candidate's try: cache, breaker, rate limits, call. `request` (owned by Complete, which
  // awaits this) is moved from when `last` and the call is sent.
  boost::asio::awaitable<Outcome> Attempt(ChatRequest* request, bool last, bool skip_if_held,
                                          std::vector<std::string>* notes);
  // The failure as returned to the caller: notes appended to the message, retry hints raised to
  // a hold of `answered` (the model that failed) or to this model's open breaker when `alone`,
  // no_retry when this model's retry budget is spent.
  Status Finish(const Status& failure, const std::vector<std::string>& notes,
                const AdmittedModel* answered, bool alone);
  bool FallsBackOn(std::string_view error_type) const;

  const std::string name_;
  const std::unique_ptr<ChatModel> inner_;
  const AdmissionIdentity identity_;
  const AdmissionConfig config_;
  const std::shared_ptr<AdmissionHub> hub_;
  const std::shared_ptr<ModelGate> gate_;
  const std::shared_ptr<KeyLimiter> limiter_;
  std::vector<AdmittedModel*> fallbacks_;
};

// Wraps `inner`, built from `config`: parses the admission keys of config.options, and takes
// the identity from config.provider, config.model, options.base_url and `api_key` (only its
// fingerprint is kept). Fails with kInvalidArgument naming the bad key.
Result<std::unique_ptr<AdmittedModel>> AdmitModel(const core::ModelConfig& config,
                                                  std::unique_ptr<ChatModel> inner,
                                                  std::shared_ptr<AdmissionHub> hub,
                                                  std::string_view api_key = {});

}  // namespace baton::providers::admission
