// A preferences form as a browser (or anyone) posts it to the preference center: the body parsed
// by http::ParseForm, then compared with the page it was rendered from (prefcenter/page.h
// PlanFromForm). Input: one byte choosing the page ('c': a contact point's link without
// preferences; anything else: a subject's link with preferences), then the form body.
// Properties (prefcenter_pages.h RequirePlanSound): an error is INVALID_ARGUMENT with a locale key;
// each planned decision is an enabled row whose box changed, to the state the box says; changed
// preferences only on a subject's page, within their limits and valid for consentd; every
// decision told in words.
#include <cstdint>
#include <map>
#include <string>

#include "fuzz/fuzz_support.h"
#include "fuzz/prefcenter_pages.h"
#include "http/form.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace assent;
  fuzz::Input input(data, size);
  const fuzz::Pages& pages = fuzz::ThePages();
  const bool contact = input.Byte() == 'c';
  const prefcenter::PageData& page = contact ? pages.contact : pages.subject;
  const auto& purposes = contact ? pages.contact_purposes : pages.subject_purposes;
  const std::multimap<std::string, std::string> form = http::ParseForm(input.Rest());
  fuzz::RequirePlanSound(prefcenter::PlanFromForm(page, purposes, form, pages.locales), page,
                         purposes, form);
  return 0;
}
