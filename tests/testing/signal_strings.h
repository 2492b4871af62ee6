// Typical web consent signals, shared by tests/unit/signals_test.cc (which checks their decoding
// against the IAB libraries) and tools/bench/micro/signals_bench.cc. Both were encoded by
// @iabgpp/cmpapi 3.2.0: a TC string (TCF v2.2, policy version 5, CMP 10, purposes 1,2,3,4,7,9,10
// consented, 321 of vendors 1..1100 consented as a bitfield, 129 legitimate interests, a publisher
// TC segment) and the GPP string carrying it as tcfeuv2 plus usnat (TargetedAdvertisingOptOut 1,
// with a GPC segment).
#pragma once

namespace assent::testing {

inline constexpr char kTypicalTcString[] =
    "CQuwUgAQuwUgAAKADBENBVFoAPLAAELAAAYgImAyOMUQhSC5AKQQgNYTorEADwYFEpIJmDmhHBQEBKHA8BEsoCSG"
    "KTAMMgwABABS46EoRUcMZQIyqUsU2IADAGSisIANaiIBtjJU0ASFEEDyAQECEAJhJGhiiKIaQVSBABwQE0AcifBG"
    "kAEDRYAyIowgAAAIlCBDAQBKR8gKE2jGABIqAYs2YAwApEERgGRAAJAQQAACBACAArACAA8AAEERgABAASR6AAAA"
    "OAQAQAAAQAAIAMMQgARAAEIQQAABgAAAAAAAAACYAAAAgUAggIAAAAwAABAhgAAAAAQBBQCAEgAYACCBAAAQAgyI"
    "gAEEACNQggIAQAAASAliQQBAAAmQAAAREgAAABEICCAAAIAgBAQgAACAAAAA.IAAA.fAAAAAAAAAAA";

inline constexpr char kTypicalGppString[] =
    "DBACMMA~CQuwUgAQuwUgAAKADBENBVFoAPLAAELAAAYgImAyOMUQhSC5AKQQgNYTorEADwYFEpIJmDmhHBQEBKHA"
    "8BEsoCSGKTAMMgwABABS46EoRUcMZQIyqUsU2IADAGSisIANaiIBtjJU0ASFEEDyAQECEAJhJGhiiKIaQVSBABwQ"
    "E0AcifBGkAEDRYAyIowgAAAIlCBDAQBKR8gKE2jGABIqAYs2YAwApEERgGRAAJAQQAACBACAArACAA8AAEERgABA"
    "ASR6AAAAOAQAQAAAQAAIAMMQgARAAEIQQAABgAAAAAAAAACYAAAAgUAggIAAAAwAABAhgAAAAAQBBQCAEgAYACCB"
    "AAAQAgyIgAEEACNQggIAQAAASAliQQBAAAmQAAAREgAAABEICCAAAIAgBAQgAACAAAAA.IAAA.fAAAAAAAAAAA~C"
    "VQpAAAAAACA.YA";

}  // namespace assent::testing
