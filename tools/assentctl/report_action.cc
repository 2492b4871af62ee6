// assentctl report: consent counts and rates from GetConsentReport (README "Consent reports") as a
// table, JSON, CSV, or a chart rendered by gnuplot.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "assent/v1/report.grpc.pb.h"
#include "assentctl/actions.h"
#include "assentctl/format.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace assent::ctl {
namespace {

using ReportStub = v1::ReportService::StubInterface;

absl::Status Usage(std::string_view message) { return absl::InvalidArgumentError(Sv(message)); }

const std::map<std::string, v1::ReportDimension>& Dimensions() {
  static const auto* dims = new std::map<std::string, v1::ReportDimension>{
      {"day", v1::REPORT_DIMENSION_DAY},
      {"purpose", v1::REPORT_DIMENSION_PURPOSE},
      {"channel", v1::REPORT_DIMENSION_CHANNEL},
      {"jurisdiction", v1::REPORT_DIMENSION_JURISDICTION},
      {"source", v1::REPORT_DIMENSION_SOURCE}};
  return *dims;
}

std::string Today(int offset_days) {
  const absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()) + offset_days;
  return absl::FormatCivilTime(today);
}

std::string Rate(const v1::ReportCounts& c) {
  return c.has_opt_in_rate() ? absl::StrFormat("%.4f", c.opt_in_rate()) : "";
}

std::string ChannelName(v1::Channel channel) {
  return channel == v1::CHANNEL_UNSPECIFIED ? "ALL" : v1::Channel_Name(channel);
}

// The columns of the grouped dimensions, in group-by order, for one row.
std::vector<std::string> DimensionValues(const std::vector<v1::ReportDimension>& group_by,
                                         const v1::ReportRow& row) {
  std::vector<std::string> out;
  for (v1::ReportDimension d : group_by) {
    switch (d) {
      case v1::REPORT_DIMENSION_DAY:
        out.push_back(row.day());
        break;
      case v1::REPORT_DIMENSION_PURPOSE:
        out.push_back(row.purpose_id());
        break;
      case v1::REPORT_DIMENSION_CHANNEL:
        out.push_back(ChannelName(row.channel()));
        break;
      case v1::REPORT_DIMENSION_JURISDICTION:
        out.push_back(row.jurisdiction().empty() ? "-" : row.jurisdiction());
        break;
      case v1::REPORT_DIMENSION_SOURCE:
        out.push_back(row.source().empty() ? "-" : row.source());
        break;
      default:
        break;
    }
  }
  return out;
}

std::vector<std::string> CountValues(const v1::ReportCounts& c) {
  return {absl::StrCat(c.grants()),  absl::StrCat(c.refusals()), absl::StrCat(c.withdrawals()),
          absl::StrCat(c.pending()), absl::StrCat(c.lapsed()),   Rate(c)};
}

const std::vector<std::string>& CountHeaders() {
  static const auto* headers = new std::vector<std::string>{"grants",  "refusals", "withdrawals",
                                                            "pending", "lapsed",   "opt_in_rate"};
  return *headers;
}

// The rows (the first is the header) in columns, through assentctl's one table printer.
std::string RenderRows(const std::vector<std::vector<std::string>>& rows) {
  ctl::Table table;
  for (const auto& row : rows) table.AddRow(row);
  return table.Render();
}

// Quotes a string for gnuplot ('...' with '' for a quote).
std::string GnuplotString(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    if (c == '\n') continue;
    out += c;
  }
  return out + "'";
}

// Finds gnuplot on PATH (or $ASSENT_GNUPLOT).
absl::StatusOr<std::string> FindGnuplot() {
  if (const char* env = std::getenv("ASSENT_GNUPLOT"); env != nullptr && *env != '\0') {
    return std::string(env);
  }
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(Sv(path == nullptr ? "" : path), ':')) {
    if (dir.empty()) continue;
    std::string candidate = absl::StrCat(dir, "/gnuplot");
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return absl::FailedPreconditionError(
      "--chart needs gnuplot, which is not installed (Debian: apt-get install gnuplot-nox)");
}

// Renders the chart: opt-in rate per purpose by day (top) and withdrawals per day by source
// (bottom). SVG unless FILE ends in .png.
absl::Status RenderChart(const std::string& file, const std::string& tenant,
                         const std::string& from, const std::string& to,
                         const v1::GetConsentReportResponse& by_purpose,
                         const v1::GetConsentReportResponse& by_source) {
  ASSIGN_OR_RETURN(std::string gnuplot, FindGnuplot());
  char dir_template[] = "/tmp/assentctl-chart-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) return absl::InternalError("cannot create a temp dir");
  const std::string dir = dir_template;
  // One data block per purpose: day, rate.
  std::map<std::string, std::vector<std::pair<std::string, double>>> rates;
  for (const auto& row : by_purpose.rows()) {
    if (row.counts().has_opt_in_rate()) {
      rates[row.purpose_id()].push_back({row.day(), 100.0 * row.counts().opt_in_rate()});
    }
  }
  // Withdrawals per day by source: the top sources, the rest summed as "other".
  std::set<std::string> top;
  for (const auto& s : by_source.top_withdrawal_sources()) {
    if (top.size() < 8) top.insert(s.source().empty() ? "(none)" : s.source());
  }
  std::map<std::string, std::map<std::string, int64_t>> withdrawals;  // day -> source -> n
  std::set<std::string> sources;
  for (const auto& row : by_source.rows()) {
    if (row.counts().withdrawals() == 0) continue;
    std::string source = row.source().empty() ? "(none)" : row.source();
    if (!top.count(source)) source = "other";
    withdrawals[row.day()][source] += row.counts().withdrawals();
    sources.insert(source);
  }
  std::ofstream data(dir + "/rates.dat");
  std::vector<std::string> purposes;
  for (const auto& [purpose, points] : rates) {
    purposes.push_back(purpose);
    for (const auto& [day, rate] : points) data << day << " " << rate << "\n";
    data << "\n\n";
  }
  data.close();
  std::ofstream wdata(dir + "/withdrawals.dat");
  std::vector<std::string> source_list(sources.begin(), sources.end());
  for (const auto& [day, by] : withdrawals) {
    wdata << day;
    for (const auto& s : source_list) {
      auto it = by.find(s);
      wdata << " " << (it == by.end() ? 0 : it->second);
    }
    wdata << "\n";
  }
  wdata.close();

  const bool png = absl::EndsWithIgnoreCase(Sv(file), ".png");
  std::ostringstream script;
  script << (png ? "set terminal pngcairo size 1200,900 font 'DejaVu Sans,10'\n"
                 : "set terminal svg size 1200,900 dynamic font 'DejaVu Sans,11' background "
                   "rgb 'white'\n");
  script << "set output " << GnuplotString(file) << "\n"
         << "set multiplot layout 2,1 title "
         << GnuplotString(absl::StrCat("Consent report: ", tenant, ", ", from, " to ", to,
                                       " (exclusive), UTC days"))
         << "\n"
         << "set xdata time\nset timefmt '%Y-%m-%d'\nset format x '%Y-%m-%d'\n"
         << "set xtics rotate by -30 font ',9'\nset grid ytics lc rgb '#dddddd'\n"
         << "set key outside right top vertical\nset border 3\nset xtics nomirror\n"
         << "set ytics nomirror\n"
         // Both panels over the same days and the same plot area, so that they line up.
         << "set xrange ['" << from << "':'" << to << "']\n"
         << "set lmargin at screen 0.07\nset rmargin at screen 0.78\n";
  script << "set title 'Opt-in rate per purpose: grants / (grants + refusals + withdrawals)'\n"
         << "set ylabel 'opt-in rate (%)'\nset yrange [0:100]\n";
  if (purposes.empty()) {
    script << "set label 1 'no decisions in range' at graph 0.5,0.5 center\n"
           << "plot 1/0 notitle\nunset label 1\n";
  } else {
    script << "plot ";
    for (size_t i = 0; i < purposes.size(); ++i) {
      if (i > 0) script << ", ";
      script << GnuplotString(dir + "/rates.dat") << " index " << i
             << " using 1:2 with linespoints pt 7 ps 0.5 lw 2 title " << GnuplotString(purposes[i]);
    }
    script << "\n";
  }
  script << "set title 'Withdrawals per day by source'\nset ylabel 'withdrawals'\n"
         << "set yrange [0:*]\nset style fill solid 0.85 noborder\n";
  if (source_list.empty()) {
    script << "set label 2 'no withdrawals in range' at graph 0.5,0.5 center\n"
           << "plot 1/0 notitle\n";
  } else {
    // Stacked bars: each source drawn as the running total of the columns up to it, widest
    // first, so the visible band of each is its own count.
    script << "set boxwidth 0.8*86400 absolute\nplot ";
    for (size_t i = source_list.size(); i-- > 0;) {
      std::string sum = "$2";
      for (size_t j = 1; j <= i; ++j) sum = absl::StrCat(sum, "+$", j + 2);
      if (i + 1 != source_list.size()) script << ", ";
      script << GnuplotString(dir + "/withdrawals.dat") << " using 1:(" << sum
             << ") with boxes title " << GnuplotString(source_list[i]);
    }
    script << "\n";
  }
  script << "unset multiplot\n";
  {
    std::ofstream out(dir + "/chart.gp");
    out << script.str();
  }
  const std::string command =
      absl::StrCat("'", gnuplot, "' '", dir, "/chart.gp' 2>'", dir, "/stderr.txt'");
  const int rc = std::system(command.c_str());
  std::string err;
  {
    std::ifstream in(dir + "/stderr.txt");
    std::stringstream ss;
    ss << in.rdbuf();
    err = ss.str();
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("gnuplot failed (status ", rc, "): ", err));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int> Report(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  v1::GetConsentReportRequest request;
  request.set_tenant(tenant);
  request.set_start_day(args.GetOr("from", Today(-30)));
  request.set_end_day(args.GetOr("to", Today(1)));
  std::vector<v1::ReportDimension> group_by;
  for (const std::string& name : SplitList(args.GetOr("group-by", "day,purpose"))) {
    auto it = Dimensions().find(absl::AsciiStrToLower(name));
    if (it == Dimensions().end()) {
      return Usage(absl::StrCat("--group-by: unknown dimension \"", name,
                                "\" (day, purpose, channel, jurisdiction, source)"));
    }
    group_by.push_back(it->second);
    request.add_group_by(it->second);
  }
  for (const std::string& p : SplitList(args.GetOr("purpose", ""))) request.add_purpose_ids(p);
  if (auto channels = args.Get("channel")) {
    ASSIGN_OR_RETURN(auto list, ParseEnumList<v1::Channel>("channel", *channels));
    for (v1::Channel c : list) request.add_channels(c);
  }
  for (const std::string& j : SplitList(args.GetOr("jurisdiction", ""))) {
    request.add_jurisdictions(j);
  }
  for (const std::string& s : SplitList(args.GetOr("source", ""))) request.add_sources(s);
  if (auto top = args.Get("top")) {
    uint32_t n = 0;
    if (!absl::SimpleAtoi(Sv(*top), &n) || n == 0 || n > 100) {
      return Usage("--top: must be an integer in 1..100");
    }
    request.set_top_sources(n);
  }
  const bool csv = args.Switch("csv");
  const std::optional<std::string> chart = args.Get("chart");
  if (csv && session.options().json) return Usage("give at most one of --json, --csv");

  v1::GetConsentReportResponse response;
  RETURN_IF_ERROR(
      session.Call(session.reports(), &ReportStub::GetConsentReport, request, &response));

  if (chart.has_value()) {
    v1::GetConsentReportRequest rates = request;
    rates.clear_group_by();
    rates.add_group_by(v1::REPORT_DIMENSION_DAY);
    rates.add_group_by(v1::REPORT_DIMENSION_PURPOSE);
    v1::GetConsentReportResponse by_purpose;
    RETURN_IF_ERROR(
        session.Call(session.reports(), &ReportStub::GetConsentReport, rates, &by_purpose));
    v1::GetConsentReportRequest sources = request;
    sources.clear_group_by();
    sources.add_group_by(v1::REPORT_DIMENSION_DAY);
    sources.add_group_by(v1::REPORT_DIMENSION_SOURCE);
    v1::GetConsentReportResponse by_source;
    RETURN_IF_ERROR(
        session.Call(session.reports(), &ReportStub::GetConsentReport, sources, &by_source));
    RETURN_IF_ERROR(
        RenderChart(*chart, tenant, request.start_day(), request.end_day(), by_purpose, by_source));
  }

  if (session.options().json) {
    session.PrintJson(response);
    return kExitOk;
  }
  std::vector<std::string> header;
  for (v1::ReportDimension d : group_by) {
    for (const auto& [name, value] : Dimensions()) {
      if (value == d) header.push_back(name);
    }
  }
  for (const std::string& h : CountHeaders()) header.push_back(h);
  if (csv) {
    std::string out = absl::StrJoin(header, ",") + "\n";
    for (const auto& row : response.rows()) {
      std::vector<std::string> fields = DimensionValues(group_by, row);
      for (std::string& f : fields) f = CsvQuote(f);
      for (const std::string& v : CountValues(row.counts())) fields.push_back(v);
      out += absl::StrJoin(fields, ",") + "\n";
    }
    session.Print(out);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> table = {header};
  for (const auto& row : response.rows()) {
    std::vector<std::string> fields = DimensionValues(group_by, row);
    for (const std::string& v : CountValues(row.counts())) fields.push_back(v);
    table.push_back(std::move(fields));
  }
  std::vector<std::string> total(group_by.size(), "");
  if (!total.empty()) total[0] = "TOTAL";
  for (const std::string& v : CountValues(response.total())) total.push_back(v);
  table.push_back(std::move(total));
  std::string out = absl::StrCat("Decisions recorded, ", request.start_day(), " to ",
                                 request.end_day(), " (exclusive, UTC):\n", RenderRows(table));
  if (response.top_withdrawal_sources_size() > 0) {
    out += "\nTop sources of withdrawals:\n";
    std::vector<std::vector<std::string>> sources = {{"source", "withdrawals"}};
    for (const auto& s : response.top_withdrawal_sources()) {
      sources.push_back({s.source().empty() ? "-" : s.source(), absl::StrCat(s.withdrawals())});
    }
    out += RenderRows(sources);
  }
  if (response.current_size() > 0) {
    out += "\nCurrent decisions (now):\n";
    std::vector<std::vector<std::string>> current = {{"purpose", "channel", "jurisdiction",
                                                      "granted", "denied", "withdrawn", "pending",
                                                      "lapsed"}};
    for (const auto& c : response.current()) {
      current.push_back({c.purpose_id(), ChannelName(c.channel()),
                         c.jurisdiction().empty() ? "-" : c.jurisdiction(),
                         absl::StrCat(c.counts().grants()), absl::StrCat(c.counts().refusals()),
                         absl::StrCat(c.counts().withdrawals()), absl::StrCat(c.counts().pending()),
                         absl::StrCat(c.counts().lapsed())});
    }
    out += RenderRows(current);
  }
  if (chart.has_value()) out += absl::StrCat("\nChart written to ", *chart, "\n");
  session.Print(out);
  return kExitOk;
}

}  // namespace assent::ctl
