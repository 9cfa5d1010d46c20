//! The spend-category taxonomy every transaction is normalised into.
//!
//! Twenty-two categories plus `uncategorized`. They are chosen so that a finance lead can act
//! on each one (a budget owner exists for it) and so that benchmarks across tenants compare
//! like with like. The category as written in the source is always kept beside it
//! (`category_raw`), so the mapping can be revised and re-run without losing information.
//! `docs/categories.md` is generated from [`Category::ALL`] and checked by a test.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

macro_rules! taxonomy {
    ($( $variant:ident => $code:literal, $label:literal, $description:literal; )*) => {
        /// A normalised spend category.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum Category {
            $(
                #[doc = $description]
                $variant,
            )*
        }

        impl Category {
            /// Every category, in documentation order.
            pub const ALL: &'static [Category] = &[$(Category::$variant),*];

            /// The stable snake_case code used on the wire and in tables.
            pub const fn code(self) -> &'static str {
                match self { $(Category::$variant => $code,)* }
            }

            /// A short human label.
            pub const fn label(self) -> &'static str {
                match self { $(Category::$variant => $label,)* }
            }

            /// What belongs in the category.
            pub const fn description(self) -> &'static str {
                match self { $(Category::$variant => $description,)* }
            }

            /// The category for a code, if it is one.
            pub fn from_code(code: &str) -> Option<Category> {
                match code { $($code => Some(Category::$variant),)* _ => None }
            }
        }
    };
}

taxonomy! {
    SoftwareSaas => "software_saas", "Software & SaaS",
        "Software licences and subscriptions: productivity suites, CRM, design tools, app stores.";
    CloudHosting => "cloud_hosting", "Cloud & hosting",
        "Cloud infrastructure, web hosting, domains, data and API usage billing.";
    ItHardware => "it_hardware", "IT hardware",
        "Computers, monitors, phones, peripherals and other IT equipment.";
    Telecom => "telecom", "Telecom & internet",
        "Phone lines, mobile plans, broadband and connectivity.";
    OfficeSupplies => "office_supplies", "Office supplies",
        "Stationery, printing consumables, small office items and office furniture.";
    RentFacilities => "rent_facilities", "Rent & facilities",
        "Rent, leases, co-working, cleaning, security guarding and building services.";
    Utilities => "utilities", "Utilities",
        "Electricity, gas, water and waste for premises.";
    RepairsMaintenance => "repairs_maintenance", "Repairs & maintenance",
        "Repairs and maintenance of buildings, equipment and software support contracts.";
    Travel => "travel", "Travel",
        "Flights, rail, taxis and ride-hailing, hotels, parking and mileage.";
    MealsEntertainment => "meals_entertainment", "Meals & entertainment",
        "Restaurants, catering, client entertainment and team events.";
    MarketingAdvertising => "marketing_advertising", "Marketing & advertising",
        "Advertising, campaigns, events and exhibitions, publicity, printing of marketing material, research.";
    ProfessionalServices => "professional_services", "Professional services",
        "Legal, accounting, audit, consultancy and other professional fees.";
    ContractorsStaffing => "contractors_staffing", "Contractors & staffing",
        "Agency and temporary staff, freelancers, contractors and recruitment.";
    PayrollBenefits => "payroll_benefits", "Payroll & benefits",
        "Salaries, wages, pensions, employee benefits and payroll taxes.";
    TrainingEducation => "training_education", "Training & education",
        "Courses, conferences attended, books, professional memberships and staff development.";
    Insurance => "insurance", "Insurance",
        "Business insurance premiums of every kind.";
    BankFees => "bank_fees", "Bank & payment fees",
        "Bank charges, card fees, payment-processing fees, interest and FX fees.";
    TaxesLicenses => "taxes_licenses", "Taxes & licences",
        "Business taxes, rates, permits, government fees and licences.";
    ShippingLogistics => "shipping_logistics", "Shipping & postage",
        "Couriers, postage, freight, warehousing and removals.";
    VehiclesFuel => "vehicles_fuel", "Vehicles & fuel",
        "Fuel, vehicle hire and leasing, servicing, tolls and fleet costs.";
    GrantsDonations => "grants_donations", "Grants & donations",
        "Grants, subsidies and donations paid to other organisations.";
    InventoryMaterials => "inventory_materials", "Inventory & materials",
        "Goods for resale, raw materials, operational equipment and supplies used in delivery.";
    Uncategorized => "uncategorized", "Uncategorised",
        "Nothing in the source said enough to choose a category.";
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// Renders the taxonomy as the Markdown table kept in `docs/categories.md`.
pub fn taxonomy_markdown() -> String {
    let mut out = String::from(
        "# Spend categories\n\nGenerated from `schemas/src/category.rs` (a test keeps this file in \
         sync). Every transaction carries one of these codes in `category`, next to the \
         category as written in the source (`category_raw`).\n\n| code | label | what belongs |\n|---|---|---|\n",
    );
    for category in Category::ALL {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            category.code(),
            category.label(),
            category.description()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_match_serde() {
        assert!((15..=25).contains(&Category::ALL.len()));
        for category in Category::ALL {
            assert_eq!(Category::from_code(category.code()), Some(*category));
            let json = serde_json::to_string(category).unwrap();
            assert_eq!(json, format!("\"{}\"", category.code()));
        }
    }
}
