#include "crypto/signature.h"

#include <gtest/gtest.h>

#include "crypto/test_pki.h"

namespace cls::crypto {
namespace {

TEST(SignatureTest, ASignatureVerifiesWithTheSignersCertificateOnly) {
  testing::TestPki pki;
  auto alice = pki.Issue("HOSP_A", "site");
  auto bob = pki.Issue("HOSP_B", "site");
  auto key = SigningKey::FromPem(alice.key_pem);
  ASSERT_TRUE(key.has_value()) << key.error().message;
  const Bytes message = {1, 2, 3, 4, 5};
  auto signature = key->Sign(message);
  ASSERT_TRUE(signature.has_value());

  auto alice_cert = Certificate::FromDer(alice.certificate_der);
  auto bob_cert = Certificate::FromDer(bob.certificate_der);
  ASSERT_TRUE(alice_cert.has_value() && bob_cert.has_value());
  EXPECT_EQ(alice_cert->common_name(), "HOSP_A");
  EXPECT_EQ(alice_cert->role(), "site");
  EXPECT_TRUE(alice_cert->Verify(message, *signature));
  EXPECT_FALSE(bob_cert->Verify(message, *signature));

  Bytes altered = message;
  altered[2] ^= 0x01;
  EXPECT_FALSE(alice_cert->Verify(altered, *signature));
  Bytes bad_signature = *signature;
  bad_signature.back() ^= 0x01;
  EXPECT_FALSE(alice_cert->Verify(message, bad_signature));
  EXPECT_FALSE(alice_cert->Verify(message, {}));
}

TEST(SignatureTest, TheAuthorityRefusesACertificateItDidNotIssue) {
  testing::TestPki consortium;
  testing::TestPki other("Other CA");
  auto ca = CertificateAuthority::FromPem(consortium.ca_pem());
  ASSERT_TRUE(ca.has_value()) << ca.error().message;

  auto ours = consortium.Issue("HOSP_A", "site");
  auto checked = ca->Check(ours.certificate_der);
  ASSERT_TRUE(checked.has_value()) << checked.error().message;
  EXPECT_EQ(checked->common_name(), "HOSP_A");

  auto foreign = other.Issue("HOSP_A", "site");
  auto refused = ca->Check(foreign.certificate_der);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(refused.error().message.find("not issued by the CA"),
            std::string::npos)
      << refused.error().message;

  Bytes garbled = ours.certificate_der;
  garbled[garbled.size() / 2] ^= 0x5a;
  EXPECT_FALSE(ca->Check(garbled).has_value());
  EXPECT_FALSE(ca->Check(Bytes{1, 2, 3}).has_value());
}

TEST(SignatureTest, MalformedKeysAndAuthoritiesAreRefused) {
  EXPECT_FALSE(SigningKey::FromPem("not a key").has_value());
  EXPECT_FALSE(CertificateAuthority::FromPem("not a certificate").has_value());
  EXPECT_FALSE(SigningKey::FromPemFile("/nonexistent/key.pem").has_value());
}

}  // namespace
}  // namespace cls::crypto
