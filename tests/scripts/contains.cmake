# cmake -DPART=a -DWHOLE=b -P contains.cmake: fails unless file a's text stands in file b.
file(READ ${PART} part)
file(READ ${WHOLE} whole)
string(FIND "${whole}" "${part}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${WHOLE} does not contain the text of ${PART}; paste it in")
endif()
