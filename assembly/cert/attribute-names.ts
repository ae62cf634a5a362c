// The attribute types BoringSSL (Envoy's TLS library) names when it prints a certificate's name, by
// arc and last number ("" where it names none), as read off Envoy itself. Plain data, shared by the
// filter's reader (x509.ts) and the CLI's (host/certificate.ts); tests/attacks/crafted-certificate
// .test.ts holds it to Envoy.

// 2.5.4.n (X.520)
export const X520: string[] = [
  "", "", "", "CN", "SN", "serialNumber", "C", "L", "ST", "street", "O", "OU", "title", "description", "searchGuide",
  "businessCategory", "postalAddress", "postalCode", "postOfficeBox", "physicalDeliveryOfficeName", "telephoneNumber",
  "telexNumber", "teletexTerminalIdentifier", "facsimileTelephoneNumber", "x121Address", "internationaliSDNNumber",
  "registeredAddress", "destinationIndicator", "preferredDeliveryMethod", "presentationAddress",
  "supportedApplicationContext", "member", "owner", "roleOccupant", "seeAlso", "userPassword", "userCertificate",
  "cACertificate", "authorityRevocationList", "certificateRevocationList", "crossCertificatePair", "name", "GN",
  "initials", "generationQualifier", "x500UniqueIdentifier", "dnQualifier", "enhancedSearchGuide",
  "protocolInformation", "distinguishedName", "uniqueMember", "houseIdentifier", "supportedAlgorithms",
  "deltaRevocationList", "dmdName", "", "", "", "", "", "", "", "", "", "", "pseudonym", "", "", "", "", "", "", "role",
];
// 1.2.840.113549.1.9.n (PKCS #9)
export const PKCS9: string[] = [
  "", "emailAddress", "unstructuredName", "contentType", "messageDigest", "signingTime", "countersignature",
  "challengePassword", "unstructuredAddress", "extendedCertificateAttributes", "", "", "", "", "extReq", "SMIME-CAPS",
  "SMIME", "", "", "", "friendlyName", "localKeyID",
];
// 0.9.2342.19200300.100.1.n (RFC 4519 and the pilot attributes)
export const PILOT: string[] = [
  "", "UID", "textEncodedORAddress", "mail", "info", "favouriteDrink", "roomNumber", "photo", "userClass", "host",
  "manager", "documentIdentifier", "documentTitle", "documentVersion", "documentAuthor", "documentLocation", "", "", "",
  "", "homeTelephoneNumber", "secretary", "otherMailbox", "lastModifiedTime", "lastModifiedBy", "DC", "aRecord",
  "pilotAttributeType27", "mXRecord", "nSRecord", "sOARecord", "cNAMERecord", "", "", "", "", "", "associatedDomain",
  "associatedName", "homePostalAddress", "personalTitle", "mobileTelephoneNumber", "pagerTelephoneNumber",
  "friendlyCountryName", "", "organizationalStatus", "janetMailbox", "mailPreferenceOption", "buildingName",
  "dSAQuality", "singleLevelQuality", "subtreeMinimumQuality", "subtreeMaximumQuality", "personalSignature",
  "dITRedirect", "audio", "documentPublisher",
];
// 1.3.6.1.5.5.7.9.n (RFC 3039 personal data)
export const PDA: string[] = ["", "id-pda-dateOfBirth", "id-pda-placeOfBirth", "id-pda-gender", "id-pda-countryOfCitizenship", "id-pda-countryOfResidence"];
