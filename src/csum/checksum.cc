// The checksum engine arrives here.
namespace ferry::csum {}
