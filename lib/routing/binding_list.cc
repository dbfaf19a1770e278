// lib/routing/binding_list.cc: BindingList's storage. Owns only what
// binding_list.h declares.
#include "routing/binding_list.h"

namespace warren::routing {

BindingList::BindingList(std::initializer_list<Binding> bindings) {
  for (const Binding& binding : bindings) Append(binding);
}

BindingList::BindingList(const std::vector<Binding>& bindings) {
  for (const Binding& binding : bindings) Append(binding);
}

void BindingList::Append(Binding binding) {
  // The last chunk may be shared with copies of this list: extend a copy.
  auto last = std::make_shared<Chunk>();
  last->reserve(kChunk);
  if (chunks_.empty() || chunks_.back()->size() == kChunk) {
    chunks_.push_back(last);
  } else {
    *last = *chunks_.back();
    chunks_.back() = last;
  }
  last->push_back(std::move(binding));
  ++size_;
}

}  // namespace warren::routing
