#include "prefcenter/resend.h"

#include "absl/strings/str_cat.h"
#include "assent/sender/v1/sender.pb.h"
#include "common/digest.h"
#include "common/hex.h"
#include "common/status_macros.h"

namespace assent::prefcenter {

absl::StatusOr<std::unique_ptr<KafkaLinkMailer>> KafkaLinkMailer::Create(const std::string& brokers,
                                                                         std::string topic,
                                                                         std::string purpose_id,
                                                                         std::string template_id) {
  events::ConfPtr conf(rd_kafka_conf_new());
  RETURN_IF_ERROR(events::SetConf(conf.get(), "bootstrap.servers", brokers, "resend.brokers"));
  RETURN_IF_ERROR(events::SetConf(conf.get(), "enable.idempotence", "true", "resend"));
  RETURN_IF_ERROR(events::SetConf(conf.get(), "linger.ms", "1", "resend"));
  char error[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), error, sizeof(error));
  if (rk == nullptr) return absl::InvalidArgumentError(absl::StrCat("resend.brokers: ", error));
  conf.release();  // owned by the producer now
  std::unique_ptr<KafkaLinkMailer> mailer(new KafkaLinkMailer());
  mailer->producer_.reset(rk);
  mailer->topic_ = std::move(topic);
  mailer->purpose_id_ = std::move(purpose_id);
  mailer->template_id_ = std::move(template_id);
  return mailer;
}

KafkaLinkMailer::~KafkaLinkMailer() {
  if (producer_ != nullptr) rd_kafka_flush(producer_.get(), 5000);
}

absl::Status KafkaLinkMailer::Send(const std::string& tenant, const std::string& email,
                                   const std::string& url) {
  sender::v1::SendRequest request;
  request.set_request_id(absl::StrCat("prefcenter-link-", ToHex(RandomBytes(12))));
  request.set_tenant(tenant);
  request.set_purpose_id(purpose_id_);
  request.set_template_id(template_id_);
  request.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
  request.mutable_contact_point()->set_value(email);
  (*request.mutable_payload())["link"] = url;
  const std::string value = request.SerializeAsString();
  const std::string& key = request.request_id();
  rd_kafka_resp_err_t err =
      rd_kafka_producev(producer_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()),
                        RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
                        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
  rd_kafka_poll(producer_.get(), 0);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("resend: ", rd_kafka_err2str(err)));
  }
  return absl::OkStatus();
}

}  // namespace assent::prefcenter
