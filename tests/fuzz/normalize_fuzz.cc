// Contact-point normalisation (contact/normalize.h) on any input. Input: one type letter (e email,
// p phone, d device, a postal address, anything else unspecified), for phones a two-letter default
// region, then the value.
// Properties: an error is INVALID_ARGUMENT naming "point.<field>"; a normalised value normalises to
// itself (idempotent: a contact point stored normalised hashes the same when given again); its
// ContactRef carries a keyed hash that ValidateRef accepts.
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "contact/normalize.h"
#include "fuzz/fuzz_support.h"

namespace assent::fuzz {
namespace {

v1::ContactType TypeOf(uint8_t letter) {
  switch (letter) {
    case 'e':
      return v1::CONTACT_EMAIL;
    case 'p':
      return v1::CONTACT_PHONE;
    case 'd':
      return v1::CONTACT_DEVICE;
    case 'a':
      return v1::CONTACT_POSTAL;
    default:
      return static_cast<v1::ContactType>(letter % 8);
  }
}

}  // namespace
}  // namespace assent::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace assent;
  fuzz::Input input(data, size);
  v1::ContactPoint point;
  point.set_type(fuzz::TypeOf(input.Byte()));
  if (point.type() == v1::CONTACT_PHONE) {
    std::string region;
    region.push_back(static_cast<char>(input.Byte()));
    region.push_back(static_cast<char>(input.Byte()));
    point.set_default_region(region);
  }
  point.set_value(std::string(input.Rest()));

  absl::StatusOr<std::string> normalized = contact::Normalize("point", point);
  if (!normalized.ok()) {
    fuzz::RequireInvalidField(normalized.status(), "point.");
    return 0;
  }
  v1::ContactPoint again = point;
  again.set_value(*normalized);
  absl::StatusOr<std::string> twice = contact::Normalize("point", again);
  fuzz::Require(twice.ok(), "a normalised value is valid", twice.status().ToString());
  fuzz::Require(*twice == *normalized, "normalisation is idempotent",
                *normalized + " -> " + *twice);

  absl::StatusOr<v1::ContactRef> ref = contact::ToRef("point", "tenant-key", point);
  fuzz::Require(ref.ok(), "ToRef accepts what Normalize accepts", ref.status().ToString());
  fuzz::Require(contact::ValidateRef("ref", *ref).ok(), "ToRef's hash passes ValidateRef");
  return 0;
}
