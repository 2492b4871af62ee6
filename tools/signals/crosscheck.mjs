#!/usr/bin/env node
// Prints what the IAB reference libraries decode from TC and GPP strings, to produce or check the
// expected values pasted into tests/unit/signals_test.cc (which needs no npm at run time).
//
//   cd "$(mktemp -d)" && npm install @iabtechlabtcf/core@1.5.21 @iabgpp/cmpapi@3.2.0
//   node /path/to/tools/signals/crosscheck.mjs tcf STRING...   # or: gpp STRING...
//
// tcf: one JSON line per string with @iabtechlabtcf/core's fields (id vectors as arrays of ids).
// gpp: one JSON line per string with @iabgpp/cmpapi's section ids and GppModel.toObject().
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.cwd(), 'noop.js'));
const [kind, ...strings] = process.argv.slice(2);
const ids = (vector) => {
  const out = [];
  vector.forEach((set, id) => { if (set) out.push(id); });
  return out;
};

for (const s of strings) {
  try {
    if (kind === 'tcf') {
      const { TCString } = require('@iabtechlabtcf/core');
      const m = TCString.decode(s);
      const restrictions = m.publisherRestrictions.getRestrictions().map((r) => ({
        purposeId: r.purposeId, restrictionType: r.restrictionType,
        vendors: m.publisherRestrictions.getVendors(r),
      }));
      console.log(JSON.stringify({
        version: m.version, created: m.created, lastUpdated: m.lastUpdated, cmpId: m.cmpId,
        cmpVersion: m.cmpVersion, consentScreen: m.consentScreen,
        consentLanguage: m.consentLanguage, vendorListVersion: m.vendorListVersion,
        policyVersion: m.policyVersion, isServiceSpecific: m.isServiceSpecific,
        useNonStandardTexts: m.useNonStandardTexts,
        specialFeatureOptins: ids(m.specialFeatureOptins), purposeConsents: ids(m.purposeConsents),
        purposeLegitimateInterests: ids(m.purposeLegitimateInterests),
        purposeOneTreatment: m.purposeOneTreatment, publisherCountryCode: m.publisherCountryCode,
        vendorConsents: ids(m.vendorConsents),
        vendorLegitimateInterests: ids(m.vendorLegitimateInterests),
        publisherRestrictions: restrictions, vendorsDisclosed: ids(m.vendorsDisclosed),
        publisherConsents: ids(m.publisherConsents),
        publisherLegitimateInterests: ids(m.publisherLegitimateInterests),
        numCustomPurposes: m.numCustomPurposes,
        publisherCustomConsents: ids(m.publisherCustomConsents),
        publisherCustomLegitimateInterests: ids(m.publisherCustomLegitimateInterests),
      }));
    } else if (kind === 'gpp') {
      const { GppModel } = require('@iabgpp/cmpapi');
      const m = new GppModel(s);
      console.log(JSON.stringify({ sectionIds: m.getSectionIds(), sections: m.toObject() }));
    } else {
      console.error('usage: crosscheck.mjs tcf|gpp STRING...');
      process.exit(2);
    }
  } catch (e) {
    console.log(JSON.stringify({ error: String(e.message) }));
  }
}
