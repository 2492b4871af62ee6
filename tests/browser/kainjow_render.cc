// Renders one preference-center template with kainjow mustache (the engine the C++ service uses),
// so that preview.js can check that mustache.js and kainjow produce the same HTML.
//
//   kainjow_render TEMPLATES_DIR PAGE VIEW.json > page.html
//
// VIEW.json is a fully resolved view model (strings, booleans, objects, lists; `t` included).
// Every *.mustache file in TEMPLATES_DIR is registered as a partial under its base name, as the
// service does. Built by preview.js when g++, kainjow and nlohmann-json are installed.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <kainjow/mustache.hpp>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace km = kainjow::mustache;

namespace {

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

km::data ToData(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::object: {
      km::data d{km::data::type::object};
      for (const auto& [key, value] : j.items()) d.set(key, ToData(value));
      return d;
    }
    case nlohmann::json::value_t::array: {
      km::data d{km::data::type::list};
      for (const auto& value : j) d.push_back(ToData(value));
      return d;
    }
    case nlohmann::json::value_t::string:
      return km::data{j.get<std::string>()};
    case nlohmann::json::value_t::boolean:
      return j.get<bool>() ? km::data{km::data::type::bool_true}
                           : km::data{km::data::type::bool_false};
    default:
      throw std::runtime_error("view model may hold only objects, lists, strings and booleans");
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: kainjow_render TEMPLATES_DIR PAGE VIEW.json\n";
    return 2;
  }
  try {
    const std::filesystem::path dir = argv[1];
    km::data view = ToData(nlohmann::json::parse(ReadFile(argv[3])));
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().extension() != ".mustache") continue;
      const std::string text = ReadFile(entry.path());
      view.set(entry.path().stem().string(), km::partial{[text]() { return text; }});
    }
    km::mustache tmpl{ReadFile(dir / (std::string(argv[2]) + ".mustache"))};
    if (!tmpl.is_valid()) {
      std::cerr << "template error: " << tmpl.error_message() << "\n";
      return 1;
    }
    const std::string html = tmpl.render(view);
    if (!tmpl.is_valid()) {
      std::cerr << "render error: " << tmpl.error_message() << "\n";
      return 1;
    }
    std::cout << html;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
